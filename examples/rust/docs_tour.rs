//! Nested documents in arena memory: build them event by event, read them lazily,
//! delete and compact, and reuse a scratch arena between batches.
//!
//! `cargo run --release -p memslim-examples --example docs_tour`

use memslim::arena::{DocError, DocList, Interner, Node, Scratch, read_node};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Push-style building, as a streaming JSON parser would feed it.
    let mut docs = DocList::new();
    docs.build(|b| {
        for i in 0..1000 {
            b.begin_map()?;
            b.key("id")?;
            b.int(i)?;
            b.key("user")?;
            b.begin_map()?;
            b.key("lang")?;
            b.str(if i % 3 == 0 { "de" } else { "en" })?;
            b.key("tags")?;
            b.begin_list()?;
            b.str("new")?;
            b.end()?;
            b.end()?;
            b.end()?;
            b.end_doc()?;
        }
        Ok::<(), DocError>(())
    })?;

    // 2. JSON Lines straight into documents.
    let line = b"{\"id\": 1000, \"user\": {\"lang\": \"fr\", \"tags\": []}}\n";
    memslim::stream::docs::extend_docs_from_slice(&mut docs, "<example>", line)?;
    println!("{} documents, {:?}", docs.len(), docs.nbytes());

    // 3. Lazy reads: count the German-speaking users without decoding whole documents.
    let store = docs.store().clone();
    let (user, lang, de) = {
        let symbols = store.symbols();
        (
            symbols.lookup("user").expect("interned"),
            symbols.lookup("lang").expect("interned"),
            symbols.lookup("de").expect("interned"),
        )
    };
    let mut german = 0;
    for i in 0..docs.len() {
        let Node::Dict(root) = docs.root(i)? else {
            continue;
        };
        if let Some((Node::Dict(u), _)) = root.get(user)? {
            if let Some((Node::Sym(s), _)) = u.get(lang)? {
                german += usize::from(s == de);
            }
        }
    }
    println!("german-speaking users: {german}");
    assert_eq!(german, 334);

    // 4. Delete, then compact; a reader of the old store keeps its document.
    let kept = docs.handle(0).expect("doc 0");
    for _ in 0..500 {
        docs.remove(0)?;
    }
    println!("garbage before compact: {} bytes", docs.nbytes().garbage);
    let reclaimed = docs.compact()?;
    println!("compact reclaimed {reclaimed} bytes");
    let old = read_node(store.doc(kept).expect("old store alive"), 0)?.0;
    assert!(matches!(old, Node::Dict(_)));

    // 5. A scratch arena reset between batches, and an interner for repeated strings.
    let mut scratch = Scratch::new();
    let mut names = Interner::new();
    for batch in 0..3 {
        let words: Vec<_> = (0..100)
            .map(|i| scratch.alloc_str(&format!("w{}", (i + batch) % 10)))
            .collect();
        for &w in &words {
            names
                .intern(scratch.get_str(w).expect("allocated in this batch"))
                .expect("room for symbols");
        }
        scratch.reset();
    }
    println!(
        "interned {} distinct words; scratch holds {} bytes after {} resets",
        names.len(),
        scratch.allocated_bytes(),
        scratch.resets()
    );
    Ok(())
}
