//! Typed remote-control commands (seed section 远程控制 / 标准远程控制命令).
//!
//! On the wire a [`pb::RemoteControlReq`] is a command name and one `int` parameter. The seed
//! defines four standard commands:
//!
//! | name | parameter |
//! |---|---|
//! | `Reset` | 0 = restart the system (重启系统, hard), 1 = restart the program (重启程序, soft) |
//! | `RemoteStart` | connector number (开启充电) |
//! | `RemoteStop` | connector number (结束充电; the seed's table repeats "RemoteStart" here, a typo) |
//! | `Debug` | 0 = stop debugging, 1 = start debugging |
//!
//! Any other name is a vendor command and is kept as it came.

use super::pb;

/// What `Reset` restarts (seed: "参数:类型int,0-重启系统,1-重启程序").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetKind {
    /// 0, 重启系统: reboot the whole controller (OCPP Hard reset).
    System,
    /// 1, 重启程序: restart the charging application (OCPP Soft reset).
    Program,
}

/// A remote-control command with a typed parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteCommand {
    /// `Reset`.
    Reset(ResetKind),
    /// `RemoteStart` on a connector (1-based).
    RemoteStart {
        /// The connector number.
        connector_id: u32,
    },
    /// `RemoteStop` on a connector (1-based).
    RemoteStop {
        /// The connector number.
        connector_id: u32,
    },
    /// `Debug`: true = start debugging.
    Debug(bool),
    /// A command name the seed does not define, with its raw parameter.
    Vendor {
        /// The command name.
        command: String,
        /// The parameter.
        param: i32,
    },
}

/// A standard command whose parameter is out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteCommandError {
    /// The parameter is not one the command defines.
    #[error("remote command {command:?} does not take parameter {param}")]
    BadParam {
        /// The command name.
        command: String,
        /// The parameter received.
        param: i32,
    },
}

impl RemoteCommand {
    /// The seed's command name (`"Reset"`, `"RemoteStart"`, `"RemoteStop"`, `"Debug"`).
    pub fn name(&self) -> &str {
        match self {
            Self::Reset(_) => "Reset",
            Self::RemoteStart { .. } => "RemoteStart",
            Self::RemoteStop { .. } => "RemoteStop",
            Self::Debug(_) => "Debug",
            Self::Vendor { command, .. } => command,
        }
    }

    /// The wire parameter. A connector number above `i32::MAX` cannot be sent and saturates.
    pub fn param(&self) -> i32 {
        match self {
            Self::Reset(ResetKind::System) | Self::Debug(false) => 0,
            Self::Reset(ResetKind::Program) | Self::Debug(true) => 1,
            Self::RemoteStart { connector_id } | Self::RemoteStop { connector_id } => {
                i32::try_from(*connector_id).unwrap_or(i32::MAX)
            }
            Self::Vendor { param, .. } => *param,
        }
    }

    /// The wire form.
    pub fn to_pb(&self) -> pb::RemoteControlReq {
        pb::RemoteControlReq {
            command: self.name().to_owned(),
            param: self.param(),
        }
    }

    /// Reads the wire form; a standard command with an undefined parameter is an error.
    pub fn from_pb(req: &pb::RemoteControlReq) -> Result<Self, RemoteCommandError> {
        let bad = || RemoteCommandError::BadParam {
            command: req.command.clone(),
            param: req.param,
        };
        let connector = || {
            u32::try_from(req.param)
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(bad)
        };
        Ok(match (req.command.as_str(), req.param) {
            ("Reset", 0) => Self::Reset(ResetKind::System),
            ("Reset", 1) => Self::Reset(ResetKind::Program),
            ("Debug", 0) => Self::Debug(false),
            ("Debug", 1) => Self::Debug(true),
            ("Reset" | "Debug", _) => return Err(bad()),
            ("RemoteStart", _) => Self::RemoteStart {
                connector_id: connector()?,
            },
            ("RemoteStop", _) => Self::RemoteStop {
                connector_id: connector()?,
            },
            (command, param) => Self::Vendor {
                command: command.to_owned(),
                param,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_commands_round_trip() {
        let commands = [
            RemoteCommand::Reset(ResetKind::System),
            RemoteCommand::Reset(ResetKind::Program),
            RemoteCommand::RemoteStart { connector_id: 1 },
            RemoteCommand::RemoteStop { connector_id: 2 },
            RemoteCommand::Debug(true),
            RemoteCommand::Debug(false),
            RemoteCommand::Vendor {
                command: "FanTest".into(),
                param: -3,
            },
        ];
        for command in commands {
            assert_eq!(RemoteCommand::from_pb(&command.to_pb()), Ok(command));
        }
    }

    #[test]
    fn seed_reset_parameters() {
        let reset = |param| pb::RemoteControlReq {
            command: "Reset".into(),
            param,
        };
        assert_eq!(
            RemoteCommand::from_pb(&reset(0)),
            Ok(RemoteCommand::Reset(ResetKind::System))
        );
        assert_eq!(
            RemoteCommand::from_pb(&reset(1)),
            Ok(RemoteCommand::Reset(ResetKind::Program))
        );
        assert_eq!(
            RemoteCommand::from_pb(&reset(2)),
            Err(RemoteCommandError::BadParam {
                command: "Reset".into(),
                param: 2
            })
        );
    }

    #[test]
    fn connector_must_be_positive() {
        for param in [0, -1] {
            let req = pb::RemoteControlReq {
                command: "RemoteStop".into(),
                param,
            };
            assert!(RemoteCommand::from_pb(&req).is_err());
        }
    }
}
