//! The in-process demo over real HTTP: chargestorm's operator platform, the reference
//! monitoring platform and a roaming eMSP, each on its own `127.0.0.1` port.
//!
//! Same wiring as `sim_core::tcec::harness` (operator peer 0 = platform, peer 1 = eMSP; the
//! operator is peer 0 of the other two), but on sockets and the wall clock. Used by the
//! `hil/tests/http_*.rs` tests and the load run.

use std::net::SocketAddr;

use sim_core::rng::{Domain, stream};
use sim_core::tcec::demo;
use sim_core::tcec::harness::{EMSP_ID, OPERATOR_ID, PLATFORM_ID};
use sim_core::tcec::operator::{OperatorConfig, OperatorPeer, OperatorPlatform, Pushes};
use sim_core::tcec::outbox::SendPolicy;
use sim_core::tcec::platform::{MonitoringPlatform, PlatformConfig, PlatformFaults, PollSchedule};
use sim_core::tcec::roaming_client::{RoamingClient, RoamingConfig};
use sim_core::tcec::wire::Dialect;
use sim_core::tcec::{PeerConfig, PeerId};
use sim_core::time::Duration;
use tokio::net::TcpListener;

use super::HttpError;
use super::client::{ClientTls, Routes};
use super::clock::WallClock;
use super::runner::{RunningServer, serve_machine};
use super::tls::ServerTls;

/// What to start.
#[derive(Debug, Clone)]
pub struct LoopbackConfig {
    /// Root seed of keys and tokens.
    pub seed: u64,
    /// Token lifetime every side issues.
    pub token_lifetime: Duration,
    /// The platform's faults.
    pub faults: PlatformFaults,
    /// The platform's polling.
    pub polls: PollSchedule,
    /// The operator's BMS period before any `query_frequency`.
    pub bms_period: Duration,
    /// The operator's sending policy.
    pub policy: SendPolicy,
    /// Serve the platform over HTTPS with this certificate.
    pub platform_tls: Option<ServerTls>,
    /// What the operator trusts when calling out.
    pub operator_client_tls: ClientTls,
}

impl Default for LoopbackConfig {
    fn default() -> Self {
        LoopbackConfig {
            seed: 1,
            token_lifetime: Duration::from_secs(3600),
            faults: PlatformFaults::default(),
            polls: PollSchedule::NONE,
            bms_period: Duration::from_secs(60),
            policy: SendPolicy::default(),
            platform_tls: None,
            operator_client_tls: ClientTls::default(),
        }
    }
}

/// The three running services.
#[derive(Debug)]
pub struct Loopback {
    /// chargestorm's operator platform.
    pub operator: RunningServer<OperatorPlatform>,
    /// The reference monitoring platform.
    pub platform: RunningServer<MonitoringPlatform>,
    /// The roaming eMSP.
    pub emsp: RunningServer<RoamingClient>,
}

async fn bind() -> Result<(TcpListener, SocketAddr), HttpError> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

impl Loopback {
    /// Binds three loopback ports and starts everything.
    pub async fn start(config: LoopbackConfig) -> Result<Self, HttpError> {
        let key =
            |id: &str| demo::keys(id, config.seed).map_err(|e| HttpError::Machine(e.to_string()));
        let (op_l, op_a) = bind().await?;
        let (pf_l, pf_a) = bind().await?;
        let (em_l, em_a) = bind().await?;
        let clock = WallClock::start();
        let epoch = clock.beijing_epoch();
        let lifetime = config.token_lifetime;
        let (op_pf, pf_op) = PeerConfig::pair(
            Dialect::Db4403,
            "operator",
            key(OPERATOR_ID)?,
            "platform",
            key(PLATFORM_ID)?,
            lifetime,
        );
        let (op_em, em_op) = PeerConfig::pair(
            Dialect::Tcec,
            "operator",
            key(OPERATOR_ID)?,
            "emsp",
            key(EMSP_ID)?,
            lifetime,
        );
        let peers = vec![
            OperatorPeer {
                config: op_pf,
                pushes: Pushes::MONITORING,
            },
            OperatorPeer {
                config: op_em,
                pushes: Pushes::STATUS_ONLY,
            },
        ];
        let mut oc = OperatorConfig::new(
            OPERATOR_ID,
            epoch,
            peers,
            stream(config.seed, Domain::Protocol, 0),
        );
        oc.bms_period = config.bms_period;
        oc.policy = config.policy;
        let operator = OperatorPlatform::new(oc).map_err(|e| HttpError::Machine(e.to_string()))?;
        let mut pc =
            PlatformConfig::new(epoch, vec![pf_op], stream(config.seed, Domain::Backend, 1));
        pc.faults = config.faults;
        pc.polls = config.polls;
        let platform =
            MonitoringPlatform::new(pc).map_err(|e| HttpError::Machine(e.to_string()))?;
        let emsp = RoamingClient::new(RoamingConfig {
            operator_id: EMSP_ID.to_owned(),
            epoch,
            peers: vec![em_op],
            rng: stream(config.seed, Domain::Backend, 2),
            policy: SendPolicy::default(),
            metrics_prefix: "emsp".to_owned(),
        })
        .map_err(|e| HttpError::Machine(e.to_string()))?;
        let scheme = if config.platform_tls.is_some() {
            "https"
        } else {
            "http"
        };
        let op_url = format!("http://{op_a}");
        let op_routes = Routes::new()
            .with(PeerId(0), &format!("{scheme}://{pf_a}"))?
            .with(PeerId(1), &format!("http://{em_a}"))?;
        let back = Routes::new().with(PeerId(0), &op_url)?;
        let plain = ClientTls::default();
        Ok(Loopback {
            operator: serve_machine(
                op_l,
                operator,
                clock,
                op_routes,
                None,
                &config.operator_client_tls,
            )?,
            platform: serve_machine(
                pf_l,
                platform,
                clock,
                back.clone(),
                config.platform_tls.as_ref(),
                &plain,
            )?,
            emsp: serve_machine(em_l, emsp, clock, back, None, &plain)?,
        })
    }

    /// Stops all three.
    pub async fn shutdown(self) {
        self.operator.shutdown().await;
        self.platform.shutdown().await;
        self.emsp.shutdown().await;
    }
}
