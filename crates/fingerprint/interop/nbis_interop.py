#!/usr/bin/env python3
"""dinhdanh's ISO/IEC 19794-2:2005 records against NIST NBIS (Bozorth3), through the PyPI package nbis-python.

Run by crates/fingerprint/tests/nbis.rs (interchange both ways) and by the example nbis_side_by_side
(Bozorth3 on the evaluation's synthetic pairs). Not a library: two subcommands, JSON on stdout.

  nbis_interop.py interchange DIR   DIR holds records dinhdanh wrote (*.fmr) and pairs.txt ("a.fmr b.fmr" per
                                    line). Loads each in NBIS, reports the minutiae NBIS sees and the Bozorth3
                                    score of each pair, and writes what NBIS writes back for each record to
                                    DIR/nbis/NAME (as NBIS wrote it) and DIR/nbis/NAME.standard (in the
                                    standard layout, for dinhdanh).
  nbis_interop.py bozorth DIR       DIR holds ref-NNNNN.fmr and probe-NNNNN.fmr for N fingers. Scores every
                                    genuine pair (probe i, ref i) and impostor pair (probe j, ref i), j > i, with
                                    Bozorth3, timed; prints the scores and the time.

nbis-python 0.1.9 (the version pinned in scripts/test) does not read or write the standard's 2005 layout: its
records have no resolution fields, no view count and no extended data length, so its minutiae count sits at byte
25 where the standard has the first view's view/impression byte, and its minutiae start at byte 26 instead of 28.
Handed a standard record it silently reads zero minutiae (the view byte of a first plain live-scan view is 0).
The two functions `standard_to_nbis` and `nbis_to_standard` below move the same fields between the layouts; the
`interchange` report includes what NBIS reads from the unconverted bytes, so the tests notice a fixed release.

Later releases (0.1.13 and up) bundle OpenCV 4.13 built against glibc 2.38 and do not load on Debian 12; 0.1.9
links the system's OpenCV 4.6 (apt-get install libopencv-core406 libopencv-imgproc406 libopencv-ml406).
"""

import json
import os
import struct
import sys
import time

PINNED_VERSION = "0.1.9"
INSTALL_HINT = (
    f"install it with: python3 -m pip install nbis-python=={PINNED_VERSION} "
    "(and, on Debian 12, apt-get install libopencv-core406 libopencv-imgproc406 libopencv-ml406); "
    "scripts/test does both"
)
# The 500 ppi that NBIS assumes for a template without a resolution, in the standard's pixels per centimetre.
NBIS_RESOLUTION_PPCM = 197

try:
    import nbis  # noqa: E402
except ImportError as error:  # also OSError from a missing shared library, below
    sys.exit(f"nbis_interop.py: cannot import nbis-python ({error}); {INSTALL_HINT}")
except OSError as error:
    sys.exit(f"nbis_interop.py: nbis-python cannot load its library ({error}); {INSTALL_HINT}")


def installed_version():
    from importlib.metadata import version

    return version("nbis-python")


def standard_to_nbis(record: bytes) -> bytes:
    """The first view of a standard 2005 record, in nbis-python's layout (header fields up to the image size,
    then the view's position, view/impression and quality bytes, four zero bytes, the count, the minutiae)."""
    if record[:8] != b"FMR\0 20\0" or len(record) < 30:
        raise ValueError("not a 2005 finger minutiae record")
    views = record[22]
    if views < 1:
        raise ValueError("the record has no finger view")
    position, view_impression, quality, count = record[24], record[25], record[26], record[27]
    minutiae = record[28 : 28 + 6 * count]
    body = record[12:18] + bytes([position, view_impression, quality, 0, 0, 0, 0, count]) + minutiae
    return record[:8] + struct.pack(">I", 12 + len(body)) + body


def bozorth_ordered(record: bytes) -> bytes:
    """`standard_to_nbis`, with the minutiae in the order NIST's bozorth3 program gives its matcher.

    NIST's loader (bz_load in bozorth3's bz_io.c) keeps the 150 best-quality minutiae and sorts them by x, then
    y (in its bottom-left coordinates); the matcher's pair tables stop scanning at the first minutia too far
    along x, so they rely on that order. nbis-python skips the loader and hands the matcher its minutiae by
    decreasing quality, and then misses most pairs: five pairs of identical synthetic impressions, listed in
    different orders, scored 42 to 83 that way and 191 to 362 in NIST's order. Here the best 150 are kept and
    sorted as NIST does, and every quality is set equal so that nbis-python's stable sort by quality keeps
    that order. (The "score_in_nbis_python_order" of the interchange report is the score without this.)
    """
    nbis_layout = bytearray(standard_to_nbis(record))
    height = struct.unpack(">H", nbis_layout[16:18])[0]
    count = nbis_layout[25]
    minutiae = [bytes(nbis_layout[26 + 6 * i : 32 + 6 * i]) for i in range(count)]
    minutiae.sort(key=lambda m: m[5], reverse=True)
    minutiae = minutiae[:150]

    def x_then_y(m):
        x = ((m[0] & 0x3F) << 8) | m[1]
        y = ((m[2] & 0x3F) << 8) | m[3]
        return (x, height - y)

    minutiae.sort(key=x_then_y)
    body = b"".join(m[:5] + bytes([63]) for m in minutiae)
    nbis_layout[25] = len(minutiae)
    out = bytes(nbis_layout[:26]) + body
    return out[:8] + struct.pack(">I", len(out)) + out[12:]


def nbis_to_standard(template: bytes) -> bytes:
    """nbis-python's record as a standard 2005 record: one view, the resolution NBIS assumes, no extended
    data."""
    if template[:8] != b"FMR\0 20\0" or len(template) < 26:
        raise ValueError("not an nbis-python template")
    width_height = template[12:18]
    position, view_impression, quality, count = template[18], template[19], template[20], template[25]
    minutiae = template[26 : 26 + 6 * count]
    header_tail = struct.pack(">HHBB", NBIS_RESOLUTION_PPCM, NBIS_RESOLUTION_PPCM, 1, 0)
    view = bytes([position, view_impression, quality, count]) + minutiae + b"\0\0"
    body = width_height + header_tail + view
    return template[:8] + struct.pack(">I", 12 + len(body)) + body


def extractor():
    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=False, ppi=None
    )
    return nbis.new_nbis_extractor(settings)


def minutiae_json(minutiae):
    kinds = {nbis.MinutiaKind.RIDGE_ENDING: "ridge_ending", nbis.MinutiaKind.BIFURCATION: "bifurcation"}
    return [
        {"x": m.x(), "y": m.y(), "angle_degrees": m.angle(), "kind": kinds[m.kind()], "reliability": m.reliability()}
        for m in minutiae.get()
    ]


def read(directory, name):
    with open(os.path.join(directory, name), "rb") as file:
        return file.read()


def interchange(directory):
    ex = extractor()
    out_dir = os.path.join(directory, "nbis")
    os.makedirs(out_dir, exist_ok=True)
    records, loaded = {}, {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".fmr"):
            continue
        standard = read(directory, name)
        raw = ex.load_iso_19794_2_2005(standard)
        minutiae = ex.load_iso_19794_2_2005(standard_to_nbis(standard))
        loaded[name] = minutiae
        written = minutiae.to_iso_19794_2_2005()
        with open(os.path.join(out_dir, name), "wb") as file:
            file.write(written)
        with open(os.path.join(out_dir, name + ".standard"), "wb") as file:
            file.write(nbis_to_standard(written))
        # What NBIS reads back from its own bytes: the minutiae a dinhdanh reader must find in them.
        reread = ex.load_iso_19794_2_2005(written)
        records[name] = {
            "minutiae_read_from_standard_bytes": len(raw.get()),
            "minutiae": minutiae_json(minutiae),
            "written_minutiae": minutiae_json(reread),
        }
    pairs = []
    with open(os.path.join(directory, "pairs.txt")) as file:
        for line in file:
            if line.strip():
                a, b = line.split()
                probe, reference = (ex.load_iso_19794_2_2005(bozorth_ordered(read(directory, n))) for n in (a, b))
                pairs.append({
                    "probe": a,
                    "reference": b,
                    "score": probe.compare(reference),
                    "score_in_nbis_python_order": loaded[a].compare(loaded[b]),
                })
    return {"nbis_python": installed_version(), "records": records, "pairs": pairs}


def bozorth(directory):
    ex = extractor()
    count = sum(1 for name in os.listdir(directory) if name.startswith("ref-") and name.endswith(".fmr"))

    def load(kind, index):
        return ex.load_iso_19794_2_2005(bozorth_ordered(read(directory, f"{kind}-{index:05}.fmr")))

    references = [load("ref", i) for i in range(count)]
    probes = [load("probe", i) for i in range(count)]
    # The cost of one call into the library that does no matching work (empty templates): Python's share of
    # each comparison below.
    empty = ex.load_iso_19794_2_2005(b"FMR\0 20\0" + struct.pack(">I", 28) + bytes(16))
    started = time.process_time()
    for _ in range(20_000):
        empty.compare(empty)
    overhead = (time.process_time() - started) / 20_000

    wall, cpu = time.perf_counter(), time.process_time()
    genuine = [probes[i].compare(references[i]) for i in range(count)]
    impostor = [probes[j].compare(references[i]) for i in range(count) for j in range(i + 1, count)]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "nbis_python": installed_version(),
        "fingers": count,
        "genuine": genuine,
        "impostor": impostor,
        "comparisons": len(genuine) + len(impostor),
        "seconds": wall,
        "cpu_seconds": cpu,
        "call_overhead_seconds": overhead,
    }


def main(argv):
    if len(argv) != 3 or argv[1] not in ("interchange", "bozorth"):
        sys.exit("usage: nbis_interop.py interchange|bozorth DIR")
    version = installed_version()
    if version != PINNED_VERSION:
        sys.exit(f"nbis_interop.py: nbis-python {version} is installed; this script is written for {PINNED_VERSION}; {INSTALL_HINT}")
    command, directory = argv[1], argv[2]
    report = interchange(directory) if command == "interchange" else bozorth(directory)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
