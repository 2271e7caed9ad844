//! The core protocol flows over the embedded rumqttd broker.

mod mqtt_common;

use hil::mqtt::{EmbeddedBroker, MqttSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_flows_over_the_embedded_broker() {
    let broker = EmbeddedBroker::start().expect("rumqttd starts");
    let settings = MqttSettings::new(broker.url());
    mqtt_common::core_flows(&settings).await;
}
