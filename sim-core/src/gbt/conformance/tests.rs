//! Every case against chargestorm's own charger and BMS; faulty DUTs fail the right cases.

use super::*;

#[test]
fn the_catalogue_has_all_85_ids() {
    let all = catalogue();
    assert_eq!(all.len(), 85);
    let d = all.iter().filter(|c| c.role_under_test == Node::Charger).count();
    assert_eq!(d, 43);
    let mut ids: Vec<&str> = all.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 85);
    for c in &all {
        let prefix = &c.id[..2];
        let role_ok = match c.role_under_test {
            Node::Charger => prefix == "DP" || prefix == "DN",
            Node::Bms => prefix == "BP" || prefix == "BN",
        };
        assert!(role_ok, "{}", c.id);
    }
    assert!(find("dp.1001").is_some());
    assert!(find("XX.0000").is_none());
}

#[test]
fn every_case_passes_against_the_virtual_dut() {
    let mut failed = Vec::new();
    for case in catalogue() {
        let r = run_virtual(&case, &VirtualOptions::default());
        if !r.passed {
            failed.push(format!("{} {}: {}", r.id, r.title, r.detail));
        }
    }
    assert!(failed.is_empty(), "{} failed:\n{}", failed.len(), failed.join("\n"));
}
