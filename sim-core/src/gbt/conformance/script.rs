//! What the tester does in a case, as data: which session it plays, which of its own
//! frames it withholds or damages and when, what it adds, and what it asks of the device
//! under test (an operator action on a real bench).

use proto::can::CanFrame;
use proto::gbt27930::id::Pgn;
use proto::time::Duration;

use super::key::Key;
use crate::gbt::bms::{BmsConfig, BmsStopCause};
use crate::gbt::charger::{ChargerConfig, ChargerStopCause};
use crate::gbt::faults::{BmsFault, ChargerFault};

/// When something starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// At the start of the run (plus the delay).
    Start(Duration),
    /// The delay after the DUT's first frame matching the key.
    Dut(Key, Duration),
    /// The delay after the tester's first frame matching the key.
    Tester(Key, Duration),
    /// Never.
    Never,
}

impl Trigger {
    /// At once.
    pub const NOW: Trigger = Trigger::Start(Duration::ZERO);

    /// As soon as the DUT sends a frame matching `key`.
    pub const fn on_dut(key: Key) -> Trigger {
        Trigger::Dut(key, Duration::ZERO)
    }
}

/// A time window `[from, until)` given by two triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    /// Opens the window.
    pub from: Trigger,
    /// Closes it.
    pub until: Trigger,
}

impl Window {
    /// The whole run.
    pub const ALWAYS: Window = Window {
        from: Trigger::NOW,
        until: Trigger::Never,
    };

    /// From `from` to the end of the run.
    pub const fn from(from: Trigger) -> Window {
        Window {
            from,
            until: Trigger::Never,
        }
    }
}

/// What a rule does to the tester's own frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Withhold them.
    Mute,
    /// Let one in `n` through.
    Thin(u16),
    /// Cut them to this many data bytes.
    Truncate(u8),
    /// Bump the TP.DT sequence number (a transport error the receiver detects).
    CorruptTpSequence,
    /// Swap CML's maximum and minimum current fields (\[T2\] candump2).
    SwapCmlCurrents,
}

/// A rule on the tester's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// When it applies.
    pub window: Window,
    /// Which frames.
    pub key: Key,
    /// What happens to them.
    pub effect: Effect,
}

/// Extra traffic the tester adds on its own.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectWhat {
    /// One frame, sent every period while the window is open.
    Frame(CanFrame),
    /// A multi-packet message (RTS/CTS transport), started every period.
    Transport {
        /// The message.
        pgn: Pgn,
        /// Its payload (9..=1785 bytes).
        payload: Vec<u8>,
    },
    /// One frame sent in answer to each DUT frame matching the key.
    Reply {
        /// What the DUT sends.
        on: Key,
        /// The answer.
        frame: CanFrame,
    },
}

/// An injection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Inject {
    /// When it runs.
    pub window: Window,
    /// Period of the periodic kinds (ignored by `Reply`).
    pub period: Duration,
    /// What is sent.
    pub what: InjectWhat,
}

/// Something done to the device under test: on a virtual DUT the runner does it, on a real
/// bench an operator or a bench controller does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DutAction {
    /// Connect the gun / start the charge (a charger DUT; the bench powers a BMS DUT).
    Start,
    /// Press the charger's stop button.
    ManualStop,
    /// Cause a charger fault (over-temperature, module failure, emergency stop …).
    ChargerFault(ChargerFault),
    /// Make the vehicle end the charge by itself (SOC target reached).
    VehicleStop(BmsStopCause),
    /// Switch the 12 V auxiliary supply of a BMS DUT on or off.
    AuxPower(bool),
}

/// Something the tester's own session does.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TesterAction {
    /// The tester BMS stops for this cause (BST).
    BmsStop(BmsStopCause),
    /// A fault hook on the tester BMS.
    BmsFault(BmsFault),
    /// The tester BMS asks for this current (BCL), in A.
    BmsDemand(f64),
    /// The tester charger stops for this cause (CST).
    ChargerStop(ChargerStopCause),
    /// A fault hook on the tester charger.
    ChargerFault(ChargerFault),
    /// An action on the device under test.
    Dut(DutAction),
}

/// A timed action.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Action {
    /// When.
    pub at: Trigger,
    /// What.
    pub what: TesterAction,
}

/// The session the tester plays.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerConfig {
    /// A BMS (the device under test is a charger).
    Bms(Box<BmsConfig>),
    /// A charger (the device under test is a BMS).
    Charger(Box<ChargerConfig>),
}

/// What the bench must do for the DUT beyond the protocol (on a virtual DUT, the runner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bench {
    /// Normal: the battery is connected, pre-charge can complete.
    #[default]
    Normal,
    /// The charger DUT's pre-charge cannot complete (no battery voltage at the gun), so
    /// it stays in CRO(0x00).
    HoldPrecharge,
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stop {
    /// Longest run.
    pub max: Duration,
    /// End this long after the DUT's first frame matching the key.
    pub after_dut: Option<(Key, Duration)>,
}

/// The whole scripted peer of one case.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Script {
    /// The session the tester plays.
    pub peer: PeerConfig,
    /// Rules on its output.
    pub rules: Vec<Rule>,
    /// Extra traffic.
    pub injects: Vec<Inject>,
    /// Timed actions.
    pub actions: Vec<Action>,
    /// The bench's setup.
    pub bench: Bench,
    /// When the run ends.
    pub stop: Stop,
    /// Pass the tester charger's "aux power off" at the end of its session on to the
    /// DUT. Off by default: a tester that ended (or gave up) must not power the BMS DUT
    /// down while the case still waits for its timeouts.
    pub forward_aux_off: bool,
}

impl Script {
    /// A script playing `peer` with no rules, ending after `max`.
    pub fn new(peer: PeerConfig, max: Duration) -> Script {
        Script {
            peer,
            rules: Vec::new(),
            injects: Vec::new(),
            actions: Vec::new(),
            bench: Bench::Normal,
            stop: Stop {
                max,
                after_dut: None,
            },
            forward_aux_off: false,
        }
    }

    /// Adds a rule.
    pub fn rule(mut self, window: Window, key: Key, effect: Effect) -> Script {
        self.rules.push(Rule {
            window,
            key,
            effect,
        });
        self
    }

    /// Withholds the tester's frames of `key` for the whole run.
    pub fn mute(self, key: Key) -> Script {
        self.rule(Window::ALWAYS, key, Effect::Mute)
    }

    /// Adds an injection.
    pub fn inject(mut self, window: Window, period: Duration, what: InjectWhat) -> Script {
        self.injects.push(Inject {
            window,
            period,
            what,
        });
        self
    }

    /// Adds a timed action.
    pub fn act(mut self, at: Trigger, what: TesterAction) -> Script {
        self.actions.push(Action { at, what });
        self
    }

    /// Ends the run `grace` after the DUT's first frame matching `key`.
    pub fn until_dut(mut self, key: Key, grace: Duration) -> Script {
        self.stop.after_dut = Some((key, grace));
        self
    }

    /// Passes the tester charger's aux power off on to the DUT.
    pub fn aux_off_at_end(mut self) -> Script {
        self.forward_aux_off = true;
        self
    }

    /// Sets the bench setup.
    pub fn bench(mut self, bench: Bench) -> Script {
        self.bench = bench;
        self
    }
}
