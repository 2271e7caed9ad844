//! The socketcand server speaks the protocol as the daemon does: a raw TCP client checks
//! the greeting, errors, echo, BCM subscriptions and raw mode.

use hil::can::{CanBus, CanFrame, SocketcandServer, VirtualCan};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Duration, timeout};

async fn read_msg(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let n = timeout(Duration::from_secs(2), s.read(&mut b))
            .await
            .expect("reply in time")
            .expect("read");
        if n == 0 {
            return String::from_utf8(out).expect("ASCII");
        }
        out.push(b[0]);
        if b[0] == b'>' {
            return String::from_utf8(out).expect("ASCII");
        }
    }
}

#[tokio::test]
async fn greeting_open_echo_bcm_and_raw_mode() {
    let bus = VirtualCan::new("vcan0");
    let srv = SocketcandServer::bind("127.0.0.1:0", vec![bus.clone()])
        .await
        .unwrap();
    let addr = srv.local_addr();

    // An unknown bus is an error and the connection closes.
    let mut bad = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_msg(&mut bad).await, "< hi >");
    bad.write_all(b"< open can9 >").await.unwrap();
    assert_eq!(read_msg(&mut bad).await, "< error could not open bus >");
    assert_eq!(read_msg(&mut bad).await, "");

    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_msg(&mut s).await, "< hi >");
    s.write_all(b"< open vcan0 >").await.unwrap();
    assert_eq!(read_msg(&mut s).await, "< ok >");
    s.write_all(b"< echo >").await.unwrap();
    assert_eq!(read_msg(&mut s).await, "< echo >");
    s.write_all(b"< bogus 1 >").await.unwrap();
    assert_eq!(read_msg(&mut s).await, "< error unknown command >");

    // BCM mode: only subscribed identifiers arrive, bytes spaced as state_bcm.c does.
    s.write_all(b"< subscribe 0 0 123 >< echo >").await.unwrap();
    // The echo comes back once the subscription is in place.
    assert_eq!(read_msg(&mut s).await, "< echo >");
    let mut port = bus.port();
    port.send(CanFrame::new_standard(0x124, &[9]).unwrap())
        .await
        .unwrap();
    port.send(CanFrame::new_standard(0x123, &[1, 2]).unwrap())
        .await
        .unwrap();
    let m = read_msg(&mut s).await;
    assert!(
        m.starts_with("< frame 123 ") && m.ends_with(" 01 02  >"),
        "{m}"
    );

    // A BCM send reaches the other nodes.
    s.write_all(b"< send 1826F456 3 1 1 0 >").await.unwrap();
    let got = timeout(Duration::from_secs(2), port.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, CanFrame::new(0x1826_F456, &[1, 1, 0]).unwrap());

    // A cyclic job sends until deleted.
    s.write_all(b"< add 0 20000 7FF 1 AA >").await.unwrap();
    for _ in 0..3 {
        let f = timeout(Duration::from_secs(2), port.recv())
            .await
            .unwrap()
            .expect("read");
        assert_eq!(f, CanFrame::new_standard(0x7FF, &[0xAA]).unwrap());
    }
    s.write_all(b"< delete 7FF >").await.unwrap();

    // Raw mode: everything arrives, data concatenated.
    s.write_all(b"< rawmode >").await.unwrap();
    assert_eq!(read_msg(&mut s).await, "< ok >");
    port.send(CanFrame::new(0x1827_56F4, &[0xA5, 0x10]).unwrap())
        .await
        .unwrap();
    let mut m = read_msg(&mut s).await;
    while !m.starts_with("< frame 182756F4") {
        // Frames of the deleted job that were already queued.
        m = read_msg(&mut s).await;
    }
    assert!(m.ends_with(" A510 >"), "{m}");
    s.write_all(b"< bcmmode >").await.unwrap();
    let mut m = read_msg(&mut s).await;
    while m.starts_with("< frame") {
        m = read_msg(&mut s).await;
    }
    assert_eq!(m, "< ok >");
}
