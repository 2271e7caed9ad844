//! Every case against chargestorm's own charger and BMS; faulty DUTs fail the right cases.

use super::*;

#[test]
fn the_catalogue_has_all_85_ids() {
    let all = catalogue();
    assert_eq!(all.len(), 85);
    let d = all
        .iter()
        .filter(|c| c.role_under_test == Node::Charger)
        .count();
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
    assert!(
        failed.is_empty(),
        "{} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

fn run_with(id: &str, fault: Option<DutFault>) -> CaseReport {
    let case = find(id).expect("case exists");
    run_virtual(
        &case,
        &VirtualOptions {
            fault,
            ..VirtualOptions::default()
        },
    )
}

#[test]
fn a_charger_that_ignores_bcl_timeouts_fails_the_bcl_cases() {
    let fault = Some(DutFault::IgnoreBclTimeout);
    for id in ["DN.3006", "DN.3008"] {
        let r = run_with(id, fault);
        assert!(
            !r.passed,
            "{id} passed against the faulty charger: {}",
            r.detail
        );
        assert!(r.detail.contains("SPN3925"), "{id}: {}", r.detail);
    }
    // Cases that do not involve a BCL timeout still pass.
    for id in ["DP.1001", "DP.3001", "DN.2003"] {
        let r = run_with(id, fault);
        assert!(r.passed, "{id} failed: {}", r.detail);
    }
}

#[test]
fn a_bms_that_ignores_ccs_timeouts_fails_the_ccs_cases() {
    let fault = Some(DutFault::IgnoreCcsTimeout);
    for id in ["BN.3002", "BN.3003"] {
        let r = run_with(id, fault);
        assert!(
            !r.passed,
            "{id} passed against the faulty BMS: {}",
            r.detail
        );
        assert!(r.detail.contains("SPN3905"), "{id}: {}", r.detail);
    }
    assert!(run_with("BP.3001", fault).passed);
}

#[test]
fn virtual_runs_are_deterministic_and_report_measurements() {
    let a = run_with("DP.1001", None);
    let b = run_with("DP.1001", None);
    assert_eq!(a, b);
    assert!(
        a.detail.contains("CHM period median 250.0 ms"),
        "{}",
        a.detail
    );
    assert!(a.frames > 20);
    let r = run_with("DN.2005", None);
    assert!(r.passed, "{}", r.detail);
    assert!(r.duration >= proto::time::Duration::from_secs(60));
}

#[test]
fn a_case_fails_when_the_dut_is_silent() {
    // A bus with a BMS DUT, but a case for a charger DUT: nobody answers the tester BMS.
    let case = find("DP.1001").expect("case exists");
    let mut run = CaseRun::new(case, proto::time::Instant::ZERO);
    let mut bus = VirtualBus::bms(crate::gbt::bms::BmsConfig::lfp(), None);
    runner::drive_virtual(&mut run, &mut bus);
    let r = run.report();
    assert!(!r.passed);
    assert!(r.detail.contains("CHM"), "{}", r.detail);
}
