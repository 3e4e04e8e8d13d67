//! Generated tables in docs/ show the rules as the code has them; these tests fail when they drift.
//! Regenerate with `DINHDANH_WRITE_DOCS=1 cargo test -p dinhdanh-domain --test docs_in_sync`.

const END: &str = "<!-- END GENERATED -->";

/// Replaces the block between the markers of `name` in `file` with `generated`, or checks that it is there.
fn check(file: &str, name: &str, generated: &str) {
    let path = format!("{}/../../docs/{file}", env!("CARGO_MANIFEST_DIR"));
    let begin = format!("<!-- BEGIN GENERATED: {name} -->\n");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("docs/{file}: {e}"));
    let (head, rest) = doc.split_once(&begin).expect("begin marker");
    let (_, tail) = rest.split_once(END).expect("end marker");
    let expected = format!("{head}{begin}{generated}{END}{tail}");
    if std::env::var_os("DINHDANH_WRITE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    assert_eq!(doc, expected, "docs/{file} is out of date: rerun with DINHDANH_WRITE_DOCS=1");
}

#[test]
fn authorization_doc_matches_the_table() {
    check("authorization.md", "authorization table", &dinhdanh_domain::authorization::render_markdown());
}

#[test]
fn lock_authority_doc_matches_the_table() {
    check("lock-authority.md", "lock authority table", &dinhdanh_domain::authority::render_markdown());
}

#[test]
fn lock_authority_doc_lists_the_built_in_holidays() {
    check("lock-authority.md", "public holidays", &dinhdanh_domain::calendar::render_markdown());
}
