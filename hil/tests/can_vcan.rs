//! SocketCAN on a real kernel `vcan` interface. Needs `ip link add vcan0 type vcan && ip
//! link set vcan0 up`; runs only with `--features vcan_tests`.

#![cfg(feature = "vcan_tests")]

use hil::can::{CanBus, CanFrame, SocketCanBus};
use tokio::time::{Duration, timeout};

#[tokio::test]
async fn two_sockets_on_vcan0_exchange_a_frame() {
    let mut a = SocketCanBus::open("vcan0").expect("vcan0 is up");
    let mut b = SocketCanBus::open("vcan0").expect("vcan0 is up");
    let chm = CanFrame::new(0x1826_F456, &[1, 1, 0]).unwrap();
    a.send(chm).await.unwrap();
    let got = timeout(Duration::from_secs(2), b.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, chm);
}
