//! The message-code table of seed 004 ("消息代码定义"), with each code's topic class, sender and
//! request/confirmation pairing.
//!
//! Rows marked "chargestorm" are not in the seed's table: the seed lists no confirmation for
//! UpdateFirmware, FirmwareStatusNotification, DiagnosticsStatusNotification, TriggerMessage and
//! Warning, yet every other command request has one at `request | 0x80`, so chargestorm adds
//! those five at that code. Telemetry (0x21, 0x23) is QoS 0 and has no confirmation.
//! The OCR'd row between 0x81 and 0x83 (`\— 10\0 CO \\L_\ 0.00 充`) is the first half of the
//! 0x83 row split across a line break, not a lost code.

use crate::mqtt::topic::{Direction, QoS, TopicClass};

/// Which side sends a message (the seed table's "发送方" column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sender {
    /// 充电站: the charger publishes it on a `/U/...` topic.
    Charger,
    /// 后台: the backend publishes it on a `/D/...` topic.
    Backend,
    /// 双向: either side.
    Both,
}

impl Sender {
    /// Whether a message from this sender may travel in `direction`.
    pub const fn may_send(self, direction: Direction) -> bool {
        matches!(
            (self, direction),
            (Self::Both, _) | (Self::Charger, Direction::Up) | (Self::Backend, Direction::Down)
        )
    }
}

/// Generates [`MessageCode`] and its table lookups from one list, so the table is written once.
macro_rules! message_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $class:ident, $sender:ident, $in_seed:literal; )*) => {
        /// A seed-004 message code ("消息代码"), the first field of every APDU.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum MessageCode {
            $( $(#[$doc])* $name = $value, )*
        }

        impl MessageCode {
            /// Every code, in ascending order.
            pub const ALL: &'static [MessageCode] = &[ $( MessageCode::$name, )* ];

            /// The code with this value, or `None` for a value not in the table.
            pub const fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $( $value => Some(Self::$name), )*
                    _ => None,
                }
            }

            /// The message name, which is also its protobuf message name (`"BootNotificationReq"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Self::$name => stringify!($name), )*
                }
            }

            /// The topic class the seed table gives it ("注册", "命令" or "遥测").
            pub const fn class(self) -> TopicClass {
                match self {
                    $( Self::$name => TopicClass::$class, )*
                }
            }

            /// Who sends it (the seed table's "发送方").
            pub const fn sender(self) -> Sender {
                match self {
                    $( Self::$name => Sender::$sender, )*
                }
            }

            /// Whether the seed's table lists this code (false for chargestorm's additions).
            pub const fn in_seed_table(self) -> bool {
                match self {
                    $( Self::$name => $in_seed, )*
                }
            }
        }
    };
}

message_codes! {
    /// 0x01 启动通知请求 BootNotificationReq (seed row 1): command, charger.
    BootNotificationReq = 0x01, Command, Charger, true;
    /// 0x03 远程设置参数请求 ChangeConfigurationReq (seed row 2): command, backend.
    ChangeConfigurationReq = 0x03, Command, Backend, true;
    /// 0x04 获取设备参数请求 GetConfigurationReq (seed row 3): command, backend.
    GetConfigurationReq = 0x04, Command, Backend, true;
    /// 0x05 远程控制请求 RemoteControlReq (seed row 4): command, backend.
    RemoteControlReq = 0x05, Command, Backend, true;
    /// 0x06 远程升级请求 UpdateFirmwareReq (seed row 5): command, backend.
    UpdateFirmwareReq = 0x06, Command, Backend, true;
    /// 0x07 远程升级状态通知请求 FirmwareStatusNotificationReq (seed row 6): command, charger.
    FirmwareStatusNotificationReq = 0x07, Command, Charger, true;
    /// 0x08 获取诊断日志请求 GetDiagnosticsReq (seed row 7): command, backend.
    GetDiagnosticsReq = 0x08, Command, Backend, true;
    /// 0x09 诊断日志状态通知请求 DiagnosticsStatusNotificationReq (seed row 8): command, charger.
    DiagnosticsStatusNotificationReq = 0x09, Command, Charger, true;
    /// 0x0A 注册请求 DeviceRegistrationReq (seed row 9): registration, charger.
    DeviceRegistrationReq = 0x0A, Registration, Charger, true;
    /// 0x10 远程启动充电请求 RemoteStartTransactionReq (seed row 10): command, backend.
    RemoteStartTransactionReq = 0x10, Command, Backend, true;
    /// 0x11 远程停止充电请求 RemoteStopTransactionReq (seed row 11): command, backend.
    RemoteStopTransactionReq = 0x11, Command, Backend, true;
    /// 0x12 充电开始通知请求 StartTransactionReq (seed row 12): command, charger.
    StartTransactionReq = 0x12, Command, Charger, true;
    /// 0x13 充电结束通知请求 StopTransactionReq (seed row 13): command, charger.
    StopTransactionReq = 0x13, Command, Charger, true;
    /// 0x14 鉴权请求 AuthorizeReq (seed row 14): command, charger.
    AuthorizeReq = 0x14, Command, Charger, true;
    /// 0x15 预约充电请求 ReserveNowReq (seed row 15): command, backend.
    ReserveNowReq = 0x15, Command, Backend, true;
    /// 0x16 取消预约请求 CancelReservationReq (seed row 16): command, backend.
    CancelReservationReq = 0x16, Command, Backend, true;
    /// 0x1A 更新用户卡缓存请求 UpdateIdCardCacheReq (seed row 17): command, backend.
    UpdateIdCardCacheReq = 0x1A, Command, Backend, true;
    /// 0x21 遥测请求 TelemetryReq (seed row 18): telemetry, charger; no confirmation.
    TelemetryReq = 0x21, Telemetry, Charger, true;
    /// 0x23 充电过程信息请求 ChargingInfoReq (seed row 19): telemetry, charger; no confirmation.
    ChargingInfoReq = 0x23, Telemetry, Charger, true;
    /// 0x24 触发消息重发请求 TriggerMessageReq (seed row 20): command, backend.
    TriggerMessageReq = 0x24, Command, Backend, true;
    /// 0x30 获取离线订单请求 GetTransactionsReq (seed row 21): command, backend.
    GetTransactionsReq = 0x30, Command, Backend, true;
    /// 0x31 上报离线订单请求 TransactionReq (seed row 22): command, charger.
    TransactionReq = 0x31, Command, Charger, true;
    /// 0x32 获取告警纪录请求 GetWarningReq (seed row 23): command, backend.
    GetWarningReq = 0x32, Command, Backend, true;
    /// 0x33 上报告警请求 WarningReq (seed row 24): command, charger.
    WarningReq = 0x33, Command, Charger, true;
    /// 0x34 设置计费模版请求 SetTariffReq (seed row 25): command, both directions. From the
    /// charger its payload is empty (a request for the template, seed "payload为空").
    SetTariffReq = 0x34, Command, Both, true;
    /// 0x81 启动通知应答 BootNotificationConf (seed row 26): command, backend.
    BootNotificationConf = 0x81, Command, Backend, true;
    /// 0x83 远程设置参数应答 ChangeConfigurationConf (seed row 27, OCR'd "ChangeContigurationCont"):
    /// command, charger.
    ChangeConfigurationConf = 0x83, Command, Charger, true;
    /// 0x84 获取设备参数应答 GetConfigurationConf (seed row 28): command, charger.
    GetConfigurationConf = 0x84, Command, Charger, true;
    /// 0x85 远程控制应答 RemoteControlConf (seed row 29): command, charger.
    RemoteControlConf = 0x85, Command, Charger, true;
    /// 0x86 UpdateFirmwareConf (chargestorm, not in the seed table): command, charger.
    UpdateFirmwareConf = 0x86, Command, Charger, false;
    /// 0x87 FirmwareStatusNotificationConf (chargestorm, not in the seed table): command, backend.
    FirmwareStatusNotificationConf = 0x87, Command, Backend, false;
    /// 0x88 获取诊断日志应答 GetDiagnosticsConf (seed row 30): command, charger.
    GetDiagnosticsConf = 0x88, Command, Charger, true;
    /// 0x89 DiagnosticsStatusNotificationConf (chargestorm, not in the seed table): command,
    /// backend.
    DiagnosticsStatusNotificationConf = 0x89, Command, Backend, false;
    /// 0x8A 注册应答 DeviceRegistrationConf (seed row 31): registration, backend.
    DeviceRegistrationConf = 0x8A, Registration, Backend, true;
    /// 0x90 远程启动充电应答 RemoteStartTransactionConf (seed row 32): command, charger.
    RemoteStartTransactionConf = 0x90, Command, Charger, true;
    /// 0x91 远程停止充电应答 RemoteStopTransactionConf (seed row 33): command, charger.
    RemoteStopTransactionConf = 0x91, Command, Charger, true;
    /// 0x92 充电开始通知应答 StartTransactionConf (seed row 34): command, backend.
    StartTransactionConf = 0x92, Command, Backend, true;
    /// 0x93 充电结束通知应答 StopTransactionConf (seed row 35): command, backend.
    StopTransactionConf = 0x93, Command, Backend, true;
    /// 0x94 鉴权应答 AuthorizeConf (seed row 36): command, backend.
    AuthorizeConf = 0x94, Command, Backend, true;
    /// 0x95 预约充电应答 ReserveNowConf (seed row 37): command, charger.
    ReserveNowConf = 0x95, Command, Charger, true;
    /// 0x96 取消预约应答 CancelReservationConf (seed row 38): command, charger.
    CancelReservationConf = 0x96, Command, Charger, true;
    /// 0x9A 更新用户卡缓存应答 UpdateIdCardCacheConf (seed row 39): command, charger.
    UpdateIdCardCacheConf = 0x9A, Command, Charger, true;
    /// 0xA4 TriggerMessageConf (chargestorm, not in the seed table): command, charger.
    TriggerMessageConf = 0xA4, Command, Charger, false;
    /// 0xB0 获取离线订单应答 GetTransactionsConf (seed row 40): command, charger.
    GetTransactionsConf = 0xB0, Command, Charger, true;
    /// 0xB1 上报离线订单应答 TransactionConf (seed row 41): command, backend.
    TransactionConf = 0xB1, Command, Backend, true;
    /// 0xB2 获取告警记录应答 GetWarningConf (seed row 42): command, charger.
    GetWarningConf = 0xB2, Command, Charger, true;
    /// 0xB3 WarningConf (chargestorm, not in the seed table): command, backend.
    WarningConf = 0xB3, Command, Backend, false;
    /// 0xB4 设置计费模版应答 SetTariffConf (seed row 43): command, charger.
    SetTariffConf = 0xB4, Command, Charger, true;
    /// 0xFF 错误应答 MessageError (seed row 44): both directions. The seed files it under
    /// "命令" but it may answer a message of any class, so it is accepted on every topic class.
    MessageError = 0xFF, Command, Both, true;
}

impl MessageCode {
    /// The code's numeric value, as carried in the APDU.
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// Whether this code is a confirmation (an "应答", code 0x80 and up, [`Self::MessageError`]
    /// included).
    pub const fn is_conf(self) -> bool {
        self.value() >= 0x80
    }

    /// The confirmation that answers this request (`request | 0x80`), or `None` for a code that
    /// gets no confirmation: a confirmation itself, [`Self::MessageError`], or telemetry
    /// (0x21 and 0x23 have no 0xA1 / 0xA3 row in the seed and travel at QoS 0).
    ///
    /// [`Self::SetTariffReq`] from the charger is answered by the backend's own SetTariffReq,
    /// which the charger confirms with [`Self::SetTariffConf`] (seed 计费模版 section).
    pub const fn conf_of(self) -> Option<Self> {
        if self.is_conf() {
            None
        } else {
            Self::from_u8(self.value() | 0x80)
        }
    }

    /// The request this confirmation answers, or `None` for a request or [`Self::MessageError`].
    pub const fn request_of(self) -> Option<Self> {
        match self {
            Self::MessageError => None,
            _ if self.is_conf() => Self::from_u8(self.value() & 0x7F),
            _ => None,
        }
    }

    /// The QoS to publish it with (seed: 2 for registration and commands, 0 for telemetry).
    pub const fn qos(self) -> QoS {
        self.class().qos()
    }

    /// Whether it may travel in `direction` (its [`Sender`] publishes there).
    pub const fn may_travel(self, direction: Direction) -> bool {
        self.sender().may_send(direction)
    }

    /// Whether it may be carried on a topic of `class`. Every code has one class, except
    /// [`Self::MessageError`], which answers a message of any class on that message's topic.
    pub const fn may_use_class(self, class: TopicClass) -> bool {
        matches!(self, Self::MessageError) || self.class() as u8 == class as u8
    }
}

impl TryFrom<u8> for MessageCode {
    type Error = u8;

    /// The code with this value; the error gives back the unknown value.
    fn try_from(value: u8) -> Result<Self, u8> {
        Self::from_u8(value).ok_or(value)
    }
}

impl From<MessageCode> for u8 {
    fn from(code: MessageCode) -> u8 {
        code.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::pb;

    #[test]
    fn table_has_the_seed_rows_and_five_additions() {
        assert_eq!(MessageCode::ALL.len(), 49);
        let seed = MessageCode::ALL
            .iter()
            .filter(|c| c.in_seed_table())
            .count();
        assert_eq!(seed, 44);
        assert!(MessageCode::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn from_u8_and_value_are_inverse_over_all_bytes() {
        for byte in 0..=u8::MAX {
            match MessageCode::from_u8(byte) {
                Some(code) => assert_eq!(code.value(), byte),
                None => assert!(!MessageCode::ALL.iter().any(|c| c.value() == byte)),
            }
        }
        assert_eq!(MessageCode::try_from(0x02), Err(0x02));
        assert_eq!(u8::from(MessageCode::MessageError), 0xFF);
    }

    #[test]
    fn every_request_pairs_with_its_conf_except_telemetry() {
        for &code in MessageCode::ALL {
            if let Some(conf) = code.conf_of() {
                assert_eq!(conf.request_of(), Some(code), "{code:?}");
                assert_eq!(conf.class(), code.class(), "{code:?}");
                assert!(conf.name().ends_with("Conf"));
                assert_eq!(
                    conf.name().trim_end_matches("Conf"),
                    code.name().trim_end_matches("Req")
                );
            }
        }
        let unpaired: Vec<_> = MessageCode::ALL
            .iter()
            .filter(|c| !c.is_conf() && c.conf_of().is_none())
            .collect();
        assert_eq!(
            unpaired,
            [&MessageCode::TelemetryReq, &MessageCode::ChargingInfoReq]
        );
        assert_eq!(MessageCode::MessageError.request_of(), None);
        assert_eq!(MessageCode::MessageError.conf_of(), None);
    }

    #[test]
    fn confs_go_the_other_way_from_their_requests() {
        for &code in MessageCode::ALL {
            let Some(conf) = code.conf_of() else { continue };
            match code.sender() {
                Sender::Charger => assert_eq!(conf.sender(), Sender::Backend, "{code:?}"),
                Sender::Backend => assert_eq!(conf.sender(), Sender::Charger, "{code:?}"),
                // SetTariffReq: both sides send it, only the charger confirms it.
                Sender::Both => assert_eq!(conf.sender(), Sender::Charger, "{code:?}"),
            }
        }
    }

    #[test]
    fn classes_and_qos_follow_the_seed() {
        use TopicClass::*;
        assert_eq!(MessageCode::DeviceRegistrationReq.class(), Registration);
        assert_eq!(MessageCode::DeviceRegistrationConf.class(), Registration);
        assert_eq!(MessageCode::TelemetryReq.qos(), QoS::AtMostOnce);
        assert_eq!(MessageCode::ChargingInfoReq.qos(), QoS::AtMostOnce);
        assert_eq!(MessageCode::BootNotificationReq.qos(), QoS::ExactlyOnce);
        assert_eq!(MessageCode::DeviceRegistrationReq.qos(), QoS::ExactlyOnce);
        let others = MessageCode::ALL
            .iter()
            .filter(|c| c.class() == Command)
            .count();
        assert_eq!(others, 45);
        assert!(MessageCode::MessageError.may_use_class(Telemetry));
        assert!(!MessageCode::BootNotificationReq.may_use_class(Telemetry));
        assert!(MessageCode::BootNotificationReq.may_use_class(Command));
    }

    #[test]
    fn directions_follow_the_sender_column() {
        assert!(MessageCode::BootNotificationReq.may_travel(Direction::Up));
        assert!(!MessageCode::BootNotificationReq.may_travel(Direction::Down));
        assert!(MessageCode::RemoteStartTransactionReq.may_travel(Direction::Down));
        assert!(!MessageCode::RemoteStartTransactionReq.may_travel(Direction::Up));
        assert!(MessageCode::SetTariffReq.may_travel(Direction::Up));
        assert!(MessageCode::SetTariffReq.may_travel(Direction::Down));
        assert!(MessageCode::MessageError.may_travel(Direction::Up));
        assert!(MessageCode::MessageError.may_travel(Direction::Down));
    }

    /// `CamelCase` → `CAMEL_CASE`, the protobuf enum value spelling.
    fn screaming(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn rust_table_matches_the_proto_enum() {
        for &code in MessageCode::ALL {
            let pb_code = pb::MessageCode::try_from(i32::from(code.value())).unwrap();
            assert_eq!(
                pb_code.as_str_name(),
                format!("MESSAGE_CODE_{}", screaming(code.name())),
                "{code:?}"
            );
        }
        // The proto enum has exactly the Rust codes plus UNSPECIFIED = 0.
        let proto_values = (0..=255)
            .filter(|v| pb::MessageCode::try_from(*v).is_ok())
            .count();
        assert_eq!(proto_values, MessageCode::ALL.len() + 1);
    }
}
