//! An in-process deployment on the in-memory network: chargestorm's operator platform, the
//! reference monitoring platform and a roaming eMSP, wired to each other.
//!
//! Node 0 is the operator ([`OperatorPlatform`]); its peer 0 is the monitoring platform
//! (DB4403, every push) and its peer 1 the eMSP (T/CEC, status pushes and the roaming flow).
//! Node 1 is the platform ([`MonitoringPlatform`]), node 2 the eMSP ([`RoamingClient`]); the
//! operator is peer 0 of both. Used by the tests and as the `--speed max` demo setup.

use crate::metrics::Metrics;
use crate::rng::{Domain, stream};
use crate::tcec::demo;
use crate::tcec::exchange::{HttpMachine, PeerId};
use crate::tcec::operator::{
    ConnectorIdx, OperatorConfig, OperatorPeer, OperatorPlatform, Pushes, StationHandle,
};
use crate::tcec::peer::PeerConfig;
use crate::tcec::platform::{MonitoringPlatform, PlatformConfig, PlatformFaults, PollSchedule};
use crate::tcec::roaming_client::{RoamingClient, RoamingConfig};
use crate::tcec::simnet::{LinkModel, SimNet};
use crate::tcec::snapshot::ConnectorSnapshot;
use crate::time::{Duration, Instant};
use proto::tcec::crypto::KeyError;
use proto::tcec::{CivilEpoch, Dialect};

/// The operator's OperatorID in the harness.
pub const OPERATOR_ID: &str = "MA5DA0053";
/// The monitoring platform's OperatorID.
pub const PLATFORM_ID: &str = "SZJG00001";
/// The eMSP's OperatorID.
pub const EMSP_ID: &str = "EMSP00001";

/// What to build.
#[derive(Debug, Clone)]
pub struct HarnessConfig {
    /// Root seed.
    pub seed: u64,
    /// Stations.
    pub stations: u32,
    /// Chargers per station.
    pub chargers: u32,
    /// Connectors per charger.
    pub connectors: u32,
    /// DC chargers (else AC).
    pub dc: bool,
    /// Every link's latency.
    pub link: LinkModel,
    /// The platform's polling.
    pub polls: PollSchedule,
    /// The platform's faults.
    pub faults: PlatformFaults,
    /// Civil time at virtual zero.
    pub epoch: CivilEpoch,
    /// Token lifetime every side issues.
    pub token_lifetime: Duration,
}

impl Default for HarnessConfig {
    fn default() -> Self {
        HarnessConfig {
            seed: 1,
            stations: 2,
            chargers: 2,
            connectors: 2,
            dc: true,
            link: LinkModel::fixed(Duration::from_millis(20)),
            polls: PollSchedule::NONE,
            faults: PlatformFaults::default(),
            // 2023-11-14 22:13:20 UTC, 2023-11-15 06:13:20 in Beijing.
            epoch: CivilEpoch::beijing(1_700_000_000),
            token_lifetime: Duration::from_secs(7200),
        }
    }
}

/// The three machines, the network and the shared metrics.
#[derive(Debug)]
pub struct Harness {
    /// Node 0.
    pub operator: OperatorPlatform,
    /// Node 1.
    pub platform: MonitoringPlatform,
    /// Node 2.
    pub emsp: RoamingClient,
    /// The network.
    pub net: SimNet,
    /// Metrics of all three.
    pub metrics: Metrics,
    /// The stations as registered.
    pub stations: Vec<StationHandle>,
}

/// Harness construction failed (bad keys or epoch).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A derived key is not 16 bytes.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The epoch is out of the civil range.
    #[error(transparent)]
    Time(#[from] proto::tcec::time::TimeError),
}

impl Harness {
    /// Builds and wires everything, registers the stations, and runs until the initial
    /// pushes are acknowledged.
    pub fn new(config: HarnessConfig) -> Result<Self, HarnessError> {
        let seed = config.seed;
        let op_keys = demo::keys(OPERATOR_ID, seed)?;
        let (op_sees_platform, platform_sees_op) = PeerConfig::pair(
            Dialect::Db4403,
            "chargestorm operator",
            op_keys.clone(),
            "monitoring platform",
            demo::keys(PLATFORM_ID, seed)?,
            config.token_lifetime,
        );
        let (op_sees_emsp, emsp_sees_op) = PeerConfig::pair(
            Dialect::Tcec,
            "chargestorm operator",
            op_keys,
            "emsp",
            demo::keys(EMSP_ID, seed)?,
            config.token_lifetime,
        );
        let peers = vec![
            OperatorPeer {
                config: op_sees_platform,
                pushes: Pushes::MONITORING,
            },
            OperatorPeer {
                config: op_sees_emsp,
                pushes: Pushes::STATUS_ONLY,
            },
        ];
        let operator = OperatorPlatform::new(OperatorConfig::new(
            OPERATOR_ID,
            config.epoch,
            peers,
            stream(seed, Domain::Protocol, 0),
        ))?;
        let mut pc = PlatformConfig::new(
            config.epoch,
            vec![platform_sees_op],
            stream(seed, Domain::Backend, 1),
        );
        pc.polls = config.polls;
        pc.faults = config.faults;
        let platform = MonitoringPlatform::new(pc)?;
        let emsp = RoamingClient::new(RoamingConfig {
            operator_id: EMSP_ID.to_owned(),
            epoch: config.epoch,
            peers: vec![emsp_sees_op],
            rng: stream(seed, Domain::Backend, 2),
            policy: Default::default(),
            metrics_prefix: "emsp".to_owned(),
        })?;
        let mut net = SimNet::new();
        let link = |id| stream(seed, Domain::NetworkLink, id);
        net.connect(0, PeerId(0), 1, config.link, link(0));
        net.connect(0, PeerId(1), 2, config.link, link(1));
        net.connect(1, PeerId(0), 0, config.link, link(2));
        net.connect(2, PeerId(0), 0, config.link, link(3));
        let mut h = Harness {
            operator,
            platform,
            emsp,
            net,
            metrics: Metrics::new(),
            stations: Vec::new(),
        };
        for i in 0..config.stations {
            let info = demo::station(
                OPERATOR_ID,
                i,
                config.chargers,
                config.connectors,
                config.dc,
            );
            let handle = h.operator.add_station(Instant::ZERO, info);
            h.operator
                .set_videos(handle.station, vec![demo::video(OPERATOR_ID, i)]);
            h.operator.dis_equipment_status(
                Instant::ZERO,
                handle.station,
                demo::dis_equipment_status(OPERATOR_ID, i),
            );
            h.stations.push(handle);
        }
        Ok(h)
    }

    /// Every connector, in registration order.
    pub fn connectors(&self) -> Vec<ConnectorIdx> {
        self.stations
            .iter()
            .flat_map(|s| s.connectors.iter().copied())
            .collect()
    }

    /// Runs the network and all three machines until `until`.
    pub fn run_until(&mut self, until: Instant) -> u64 {
        let mut nodes: [&mut dyn HttpMachine; 3] =
            [&mut self.operator, &mut self.platform, &mut self.emsp];
        self.net
            .run_until(until, &mut nodes, &mut self.metrics, 50_000_000)
    }

    /// Runs for `d` more.
    pub fn run_for(&mut self, d: Duration) -> u64 {
        let until = self.net.now() + d;
        self.run_until(until)
    }

    /// The network's time.
    pub fn now(&self) -> Instant {
        self.net.now()
    }

    /// Plays the fleet engine: the connector's state changes to `snapshot` now; the operator
    /// is told and the platform gets it as ground truth.
    pub fn set_connector(&mut self, connector: ConnectorIdx, snapshot: &ConnectorSnapshot) {
        let now = self.now();
        self.operator.connector_status(now, connector, snapshot);
        if let Some(id) = self.operator.connector_id(connector).map(str::to_owned) {
            self.platform.ground_truth(now, PeerId(0), &id, snapshot);
        }
    }
}
