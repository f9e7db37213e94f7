//! What the patch series promises users, checked on the patched build
//! (`tests/python/patch_effects.py` prints the same report for a stock build, for comparison).

use std::process::Command;

use subinterp_e2e::{python, workspace_root};

#[test]
fn the_patched_build_forks_shares_immutables_and_imports_all_stdlib_in_subinterpreters() {
    let script = workspace_root().join("tests/python/patch_effects.py");
    let out = Command::new(python())
        .arg(&script)
        .env_remove("PYTHONPATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["fork_child_healthy"], true,
        "fork with live subinterpreters: {report:#}"
    );
    let shareable = report["shareable"].as_object().unwrap();
    assert_eq!(shareable.len(), 5, "{report:#}");
    for (kind, crossed) in shareable {
        assert_eq!(
            crossed, true,
            "{kind} does not cross interpreters: {report:#}"
        );
    }
    assert_eq!(
        report["stdlib_failing_in_isolated_subinterpreter"],
        serde_json::json!([]),
        "stdlib modules fail to import in an isolated subinterpreter"
    );
    let importable = report["stdlib_importable_in_main"].as_u64().unwrap();
    assert!(
        importable > 250,
        "only {importable} stdlib modules import at all"
    );
}
