//! The Merkle tree of RFC 9162 (Certificate Transparency 2.0, §2.1), over the audit log's entries: the hashes of
//! leaves and nodes, the root of a tree of any size, inclusion proofs (an entry is in the tree a signed head
//! names) and consistency proofs (a later head extends an earlier one: nothing before it was changed, removed or
//! reordered), each with its verification. Pure functions: the store feeds them leaf hashes.
//!
//! Written here rather than taken from a crate because the crates that implement CT-style trees keep the whole
//! tree in memory as their own type; ours lives in the database and is appended to a transaction at a time,
//! through the [`Frontier`] (the roots of the perfect subtrees, at most 64 hashes).

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The hash of an entry's canonical bytes: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (n ≥ 2): where RFC 9162 splits a tree of `n` leaves.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH(D[n]): the root of the tree over these leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]): the audit path that proves leaf `index` is in the tree over `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 || index >= n {
        return Vec::new();
    }
    let k = split(n);
    let (mut path, sibling) = if index < k {
        (inclusion_proof(&leaves[..k], index), root(&leaves[k..]))
    } else {
        (inclusion_proof(&leaves[k..], index - k), root(&leaves[..k]))
    };
    path.push(sibling);
    path
}

/// RFC 9162 §2.1.3.2: does `proof` show that `leaf` is leaf `index` of the tree of `size` leaves with `root`?
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// PROOF(m, D[n]): the hashes that prove the tree over `leaves` extends its first `m` leaves (0 < m < n; empty
/// otherwise, where there is nothing to prove).
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    if m == 0 || m >= leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete { Vec::new() } else { vec![root(leaves)] };
    }
    let k = split(n);
    let (mut proof, other) = if m <= k {
        (subproof(m, &leaves[..k], complete), root(&leaves[k..]))
    } else {
        (subproof(m - k, &leaves[k..], false), root(&leaves[..k]))
    };
    proof.push(other);
    proof
}

/// RFC 9162 §2.1.4.2: does `proof` show that the tree of `second` leaves with `second_root` extends the tree of
/// `first` leaves with `first_root`?
pub fn verify_consistency(first: u64, second: u64, first_root: &Hash, second_root: &Hash, proof: &[Hash]) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        // The empty tree is a prefix of every tree.
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *first_root && sr == *second_root && snode == 0
}

/// A tree kept as the roots of its perfect subtrees, largest first (one per bit set in its size): enough to
/// append leaves and to compute the root, without the leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// Rebuilds a frontier from what [`Frontier::encode`] wrote; `None` if it does not fit `size`.
    pub fn decode(size: u64, encoded: &str) -> Option<Self> {
        let bytes = hex_decode(encoded)?;
        if bytes.len() % 32 != 0 || bytes.len() / 32 != size.count_ones() as usize {
            return None;
        }
        let nodes = bytes.chunks(32).map(|c| c.try_into().expect("32 bytes")).collect();
        Some(Self { size, nodes })
    }

    pub fn encode(&self) -> String {
        self.nodes.iter().map(|n| hex(n)).collect()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.nodes.pop().expect("a node per bit set");
            h = node_hash(&left, &h);
            size >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }

    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else { return empty_root() };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

pub fn hash_from_hex(s: &str) -> Option<Hash> {
    hex_decode(s)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
    }

    #[test]
    fn known_roots_match_the_certificate_transparency_test_vectors() {
        // The eight leaves of the Go and C++ CT implementations' tests, and their roots (RFC 6962 test data).
        let data: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let hashes: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        for (n, want) in expected.iter().enumerate() {
            assert_eq!(hex(&root(&hashes[..=n])), *want, "root of {} leaves", n + 1);
        }
        assert_eq!(hex(&empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn the_frontier_survives_encoding() {
        let mut f = Frontier::default();
        for l in leaves(11) {
            f.push(l);
        }
        let back = Frontier::decode(11, &f.encode()).unwrap();
        assert_eq!(back, f);
        assert!(Frontier::decode(12, &f.encode()).is_none(), "a frontier of another size is refused");
    }

    proptest! {
        #[test]
        fn the_frontier_root_is_the_tree_root(n in 0usize..300) {
            let l = leaves(n);
            let mut f = Frontier::default();
            for h in &l {
                f.push(*h);
            }
            prop_assert_eq!(f.root(), root(&l));
        }

        #[test]
        fn every_inclusion_proof_verifies_and_a_wrong_one_does_not(n in 1usize..130, pick in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let r = root(&l);
            let i = pick.index(n);
            let proof = inclusion_proof(&l, i);
            prop_assert!(verify_inclusion(&l[i], i as u64, n as u64, &proof, &r));
            prop_assert!(!verify_inclusion(&leaf_hash(b"forged"), i as u64, n as u64, &proof, &r));
            if n > 1 {
                prop_assert!(!verify_inclusion(&l[i], ((i + 1) % n) as u64, n as u64, &proof, &r), "another position");
            }
            let grown = leaves(n + 1);
            prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64 + 1, &proof, &root(&grown)), "another tree's root");
        }

        #[test]
        fn every_consistency_proof_verifies_and_a_rewritten_past_does_not(n in 1usize..130, pick in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let m = pick.index(n) + 1;
            let proof = consistency_proof(&l, m);
            let (old, new) = (root(&l[..m]), root(&l));
            prop_assert!(verify_consistency(m as u64, n as u64, &old, &new, &proof));
            if m < n {
                let mut rewritten = l.clone();
                rewritten[m - 1] = leaf_hash(b"rewritten");
                let forged = root(&rewritten);
                prop_assert!(!verify_consistency(m as u64, n as u64, &old, &forged, &consistency_proof(&rewritten, m)));
            }
        }
    }
}
