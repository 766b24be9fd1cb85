//! Build driver (the cargo xtask pattern): the steps cargo-leptos would run, without
//! having to install it. `cargo xtask help` lists the commands.

use anyhow::{bail, Context, Result};
use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

const OUTPUT_NAME: &str = "wa-gateway";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

const HELP: &str = "\
cargo xtask <command> [--release]

  site      build the browser bundle into target/site (wasm, JS, CSS, public/)
  build     site + the wa-gateway server binary
  run       build, then run the server (extra args after -- go to wa-gateway)
  help      this text

--release   optimised build (wasm-release profile + wasm-opt, server --release)";

fn main() -> Result<()> {
    let mut args: Vec<String> = env::args().skip(1).collect();
    let passthrough = match args.iter().position(|a| a == "--") {
        Some(i) => args.split_off(i).into_iter().skip(1).collect(),
        None => Vec::new(),
    };
    let release = args.iter().any(|a| a == "--release");
    let root = workspace_root();
    env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("site") => site(&root, release),
        Some("build") => {
            site(&root, release)?;
            server(release)
        }
        Some("run") => {
            site(&root, release)?;
            server(release)?;
            let bin = root.join("target").join(profile_dir(release)).join(OUTPUT_NAME);
            let status = Command::new(bin).args(passthrough).status()?;
            std::process::exit(status.code().unwrap_or(1));
        }
        _ => {
            println!("{HELP}");
            Ok(())
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

fn profile_dir(release: bool) -> &'static str {
    if release {
        "release"
    } else {
        "debug"
    }
}

/// Runs a command, failing with its name if it fails.
fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let started = Instant::now();
    let status = cmd.status().with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    eprintln!("xtask: {shown} took {:.1?}", started.elapsed());
    Ok(())
}

/// A cargo command that does not inherit cargo-leptos' compile-time output name: the
/// server then expects wasm-bindgen's default `<name>_bg.wasm`, which is what we emit.
fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.env_remove("LEPTOS_OUTPUT_NAME");
    cmd
}

fn server(release: bool) -> Result<()> {
    let mut cmd = cargo();
    cmd.args(["build", "-p", "server", "--bin", OUTPUT_NAME]);
    if release {
        cmd.arg("--release");
    }
    run(&mut cmd)
}

fn site(root: &Path, release: bool) -> Result<()> {
    let site = root.join("target/site");
    let pkg = site.join("pkg");
    fs::create_dir_all(&pkg)?;

    let mut cmd = cargo();
    cmd.args(["build", "-p", "frontend", "--lib", "--target", WASM_TARGET]);
    if release {
        cmd.args(["--profile", "wasm-release"]);
    }
    run(&mut cmd)?;

    let wasm_profile = if release { "wasm-release" } else { "debug" };
    let wasm = root.join("target").join(WASM_TARGET).join(wasm_profile).join("frontend.wasm");
    check_wasm_bindgen(root)?;
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--out-name", OUTPUT_NAME, "--out-dir"])
        .arg(&pkg)
        .arg(&wasm))?;

    let bg = pkg.join(format!("{OUTPUT_NAME}_bg.wasm"));
    if release {
        let wasm_opt = root.join("end2end/node_modules/.bin/wasm-opt");
        if !wasm_opt.exists() {
            bail!("{} is missing: run scripts/setup.sh", wasm_opt.display());
        }
        run(Command::new(wasm_opt)
            .args(["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "-o"])
            .arg(&bg)
            .arg(&bg))?;
    }

    fs::copy(root.join("style/main.css"), pkg.join(format!("{OUTPUT_NAME}.css")))?;
    copy_dir(&root.join("public"), &site)?;
    let size = fs::metadata(&bg)?.len();
    eprintln!("xtask: site ready in {} (wasm {} KB)", site.display(), size / 1024);
    Ok(())
}

/// wasm-bindgen's CLI must match the crate in Cargo.lock exactly, or the site breaks.
fn check_wasm_bindgen(root: &Path) -> Result<()> {
    let lock = fs::read_to_string(root.join("Cargo.lock"))?;
    let wanted = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wasm-bindgen\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .context("wasm-bindgen not found in Cargo.lock")?;
    let out = Command::new("wasm-bindgen").arg("--version").output();
    let have = out.ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    if have != format!("wasm-bindgen {wanted}") {
        bail!("need wasm-bindgen {wanted}, found {have:?}: run scripts/setup.sh");
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
