//! Bakes the deployed commit and build time into the binary for `GET /api/version`: `GIT_COMMIT`
//! from the environment (CI and image builds set it), else the checkout's HEAD.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GIT_COMMIT");
    let from_env = std::env::var("GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty());
    // Image builds set GIT_COMMIT and have no .git: then only a new commit reruns this (and
    // recompiles the crate). From git, HEAD is watched; where it is missing (a git worktree's
    // .git is a file) cargo reruns this on every build, which keeps the commit right.
    if from_env.is_none() {
        println!("cargo:rerun-if-changed=../.git/HEAD");
        println!("cargo:rerun-if-changed=../.git/refs/heads");
    } else {
        // Any rerun-if-changed turns off cargo's default of rerunning on every change in the
        // package (rerun-if-env-changed alone does not), which would rebuild the crate each time.
        println!("cargo:rerun-if-changed=build.rs");
    }
    let commit = from_env
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let built_at = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=YAPIT_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=YAPIT_BUILT_AT={built_at}");
}
