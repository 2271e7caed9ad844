//! Running a machine as an HTTP service: server, driver and client together.
//!
//! [`serve_platform`] is `chargestorm platform`: the reference monitoring platform standing
//! alone on an address. [`serve_operator`] puts chargestorm's operator platform on the wire
//! (the simulator's `--platform URL` side). [`serve_machine`] does either for any machine on a
//! listener the caller bound (tests bind port 0 first to learn the address).

use std::net::SocketAddr;
use std::sync::Arc;

use sim_core::tcec::operator::{OperatorConfig, OperatorPlatform};
use sim_core::tcec::platform::{MonitoringPlatform, PlatformConfig};
use sim_core::tcec::{HttpMachine, PeerId};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::HttpError;
use super::client::{ClientTls, HttpClient, Routes};
use super::clock::WallClock;
use super::shared::Shared;
use super::tls::{ServerTls, server_config};
use super::{driver, server};

/// A machine being served.
#[derive(Debug)]
pub struct RunningServer<M> {
    local_addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared<M>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl<M> RunningServer<M> {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base URL peers use, `http(s)://ip:port`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// The machine (for fleet inputs and inspection, through [`Shared::with`]).
    pub fn shared(&self) -> &Arc<Shared<M>> {
        &self.shared
    }

    /// Stops accepting, lets open requests finish, stops the driver.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Serves `machine` on `listener`, driving it with `clock`; its peers are reached through
/// `routes`.
pub fn serve_machine<M: HttpMachine + Send + 'static>(
    listener: TcpListener,
    machine: M,
    clock: WallClock,
    routes: Routes,
    server_tls: Option<&ServerTls>,
    client_tls: &ClientTls,
) -> Result<RunningServer<M>, HttpError> {
    let client = HttpClient::new(client_tls)?;
    serve_machine_with_client(listener, machine, clock, routes, server_tls, client)
}

/// [`serve_machine`] with a client of the caller's (a pipelined one, for instance).
pub fn serve_machine_with_client<M: HttpMachine + Send + 'static>(
    listener: TcpListener,
    machine: M,
    clock: WallClock,
    routes: Routes,
    server_tls: Option<&ServerTls>,
    client: HttpClient,
) -> Result<RunningServer<M>, HttpError> {
    let tls = server_tls.map(server_config).transpose()?;
    let local_addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(machine, clock));
    let (shutdown, rx) = watch::channel(false);
    let is_tls = tls.is_some();
    let router = server::router(shared.clone());
    let tasks = vec![
        tokio::spawn(server::serve(listener, router, tls, rx.clone())),
        tokio::spawn(driver::run(shared.clone(), client, Arc::new(routes), rx)),
    ];
    Ok(RunningServer {
        local_addr,
        tls: is_tls,
        shared,
        shutdown,
        tasks,
    })
}

fn routes_for(urls: &[String]) -> Result<Routes, HttpError> {
    urls.iter()
        .enumerate()
        .try_fold(Routes::new(), |r, (i, url)| r.with(PeerId(i as u16), url))
}

/// The standalone reference monitoring platform.
#[derive(Debug, Clone)]
pub struct PlatformServerConfig {
    /// The platform (its epoch is replaced by the wall clock's).
    pub platform: PlatformConfig,
    /// Base URL of each operator peer, in peer order (for polling).
    pub operator_urls: Vec<String>,
    /// Serve HTTPS with this certificate.
    pub tls: Option<ServerTls>,
    /// Trust for calling the operators.
    pub client_tls: ClientTls,
}

/// Binds `addr` and serves the reference monitoring platform (`chargestorm platform`).
pub async fn serve_platform(
    addr: SocketAddr,
    config: PlatformServerConfig,
) -> Result<RunningServer<MonitoringPlatform>, HttpError> {
    serve_platform_pipelined(addr, config, 0).await
}

/// [`serve_platform`] whose client pipelines up to `pipeline` requests per connection
/// ([`HttpClient::pipelined`]; 0: one at a time).
pub async fn serve_platform_pipelined(
    addr: SocketAddr,
    mut config: PlatformServerConfig,
    pipeline: usize,
) -> Result<RunningServer<MonitoringPlatform>, HttpError> {
    let listener = TcpListener::bind(addr).await?;
    let clock = WallClock::start();
    config.platform.epoch = clock.beijing_epoch();
    let platform =
        MonitoringPlatform::new(config.platform).map_err(|e| HttpError::Machine(e.to_string()))?;
    let routes = routes_for(&config.operator_urls)?;
    let client = HttpClient::pipelined(&config.client_tls, pipeline)?;
    serve_machine_with_client(
        listener,
        platform,
        clock,
        routes,
        config.tls.as_ref(),
        client,
    )
}

/// chargestorm's operator platform on the wire.
#[derive(Debug, Clone)]
pub struct OperatorServerConfig {
    /// The operator (its epoch is replaced by the wall clock's).
    pub operator: OperatorConfig,
    /// Base URL of each peer (the monitoring platform given by `--platform URL`, roaming
    /// partners), in peer order.
    pub peer_urls: Vec<String>,
    /// Serve HTTPS with this certificate.
    pub tls: Option<ServerTls>,
    /// Trust for calling the peers.
    pub client_tls: ClientTls,
}

/// Binds `addr` and serves chargestorm's operator platform.
pub async fn serve_operator(
    addr: SocketAddr,
    config: OperatorServerConfig,
) -> Result<RunningServer<OperatorPlatform>, HttpError> {
    serve_operator_pipelined(addr, config, 0).await
}

/// [`serve_operator`] whose client pipelines up to `pipeline` requests per connection
/// ([`HttpClient::pipelined`]; 0: one at a time): for `--http-pipeline N`.
pub async fn serve_operator_pipelined(
    addr: SocketAddr,
    mut config: OperatorServerConfig,
    pipeline: usize,
) -> Result<RunningServer<OperatorPlatform>, HttpError> {
    let listener = TcpListener::bind(addr).await?;
    let clock = WallClock::start();
    config.operator.epoch = clock.beijing_epoch();
    let operator =
        OperatorPlatform::new(config.operator).map_err(|e| HttpError::Machine(e.to_string()))?;
    let routes = routes_for(&config.peer_urls)?;
    let client = HttpClient::pipelined(&config.client_tls, pipeline)?;
    serve_machine_with_client(
        listener,
        operator,
        clock,
        routes,
        config.tls.as_ref(),
        client,
    )
}
