//! Embeds the default model (`models/default/{config.json,model.bpk}`) when it exists, so the
//! binary works from any directory without external files.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ferrocr_embedded_model)");
    println!("cargo::rerun-if-changed=models/default/model.bpk");
    println!("cargo::rerun-if-changed=models/default/config.json");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default");
    if dir.join("model.bpk").is_file() && dir.join("config.json").is_file() {
        println!("cargo::rustc-cfg=ferrocr_embedded_model");
    }
}
