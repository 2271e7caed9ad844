//! A timed list of fault actions that a task plays against a running proxy.

use super::ProxyHandle;
use super::faults::{LinkFaults, Target};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

/// One thing to do to a proxy's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Store a setting at the target's level ([`ProxyHandle::set_faults`]).
    Set(LinkFaults),
    /// Remove the setting at the target's level ([`ProxyHandle::clear`]).
    Clear,
    /// Remove every setting at every level; the target is ignored ([`ProxyHandle::clear_all`]).
    ClearAll,
    /// Reset the targeted live links ([`ProxyHandle::reset`]).
    Reset,
    /// Cut the targeted live links ([`ProxyHandle::cut`]).
    Cut,
}

/// An action due at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultStep {
    /// When, counted from the start of [`FaultPlan::play`].
    pub at: Duration,
    /// Which links.
    pub target: Target,
    /// What to do.
    pub action: FaultAction,
}

/// Actions at times, played in time order (steps due at the same time keep the order in
/// which they were added).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    steps: Vec<FaultStep>,
}

impl FaultPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `action` on `target` at `at`.
    pub fn at(mut self, at: Duration, target: Target, action: FaultAction) -> Self {
        self.push(FaultStep { at, target, action });
        self
    }

    /// Adds a step.
    pub fn push(&mut self, step: FaultStep) {
        // Insert after every step due at or before it: stable time order.
        let pos = self.steps.partition_point(|s| s.at <= step.at);
        self.steps.insert(pos, step);
    }

    /// The steps in the order they are played.
    pub fn steps(&self) -> &[FaultStep] {
        &self.steps
    }

    /// Plays the plan against `proxy`, starting now; returns after the last step.
    pub async fn play(&self, proxy: &ProxyHandle) {
        let start = Instant::now();
        for step in &self.steps {
            sleep_until(start + step.at).await;
            proxy.apply(&step.target, &step.action);
        }
    }

    /// Plays the plan on its own task.
    pub fn spawn(self, proxy: ProxyHandle) -> JoinHandle<()> {
        tokio::spawn(async move { self.play(&proxy).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_kept_in_stable_time_order() {
        let ms = Duration::from_millis;
        let plan = FaultPlan::new()
            .at(ms(30), Target::All, FaultAction::Cut)
            .at(ms(10), Target::All, FaultAction::Reset)
            .at(ms(30), Target::All, FaultAction::ClearAll)
            .at(ms(0), Target::Tag("cp1".into()), FaultAction::Clear);
        let order: Vec<_> = plan
            .steps()
            .iter()
            .map(|s| (s.at, s.action.clone()))
            .collect();
        assert_eq!(
            order,
            vec![
                (ms(0), FaultAction::Clear),
                (ms(10), FaultAction::Reset),
                (ms(30), FaultAction::Cut),
                (ms(30), FaultAction::ClearAll),
            ]
        );
    }
}
