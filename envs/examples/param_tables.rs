//! Prints a Markdown table of every registered environment's parameters (key, type, default,
//! range, meaning), as used in `docs/environments.md`:
//! `cargo run -p autodidact-envs --example param_tables`.

use autodidact_core::Registry;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    autodidact_envs::link();
    let reg = Registry::from_inventory()?;
    for e in reg.envs() {
        println!("### `{}` ({})\n\n{}\n", e.name, e.kind, e.summary);
        println!("| key | type | default | range | meaning |\n| --- | --- | --- | --- | --- |");
        let defaults = (e.default_config)();
        for d in (e.params)() {
            let def = defaults
                .get(d.key)
                .map(|v| format!("`{v}`"))
                .unwrap_or_else(|| "—".into());
            println!(
                "| `{}` | {} | {} | {} | {} |",
                d.key,
                d.ty,
                def,
                d.range.replace('|', "\\|"),
                d.doc.replace('|', "\\|")
            );
        }
        println!();
    }
    Ok(())
}
