//! docs/authorization.md shows the authorization table as the code has it; this test fails when they drift.
//! Regenerate with `DINHDANH_WRITE_DOCS=1 cargo test -p dinhdanh-domain --test docs_in_sync`.

const BEGIN: &str = "<!-- BEGIN GENERATED: authorization table -->\n";
const END: &str = "<!-- END GENERATED -->";

#[test]
fn authorization_doc_matches_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/authorization.md");
    let doc = std::fs::read_to_string(path).expect("docs/authorization.md exists");
    let (head, rest) = doc.split_once(BEGIN).expect("begin marker");
    let (_, tail) = rest.split_once(END).expect("end marker");
    let expected = format!("{head}{BEGIN}{}{END}{tail}", dinhdanh_domain::authorization::render_markdown());
    if std::env::var_os("DINHDANH_WRITE_DOCS").is_some() {
        std::fs::write(path, &expected).unwrap();
        return;
    }
    assert_eq!(doc, expected, "docs/authorization.md is out of date: rerun with DINHDANH_WRITE_DOCS=1");
}
