//! Remote firmware update (seed 远程升级) and diagnostics upload (获取设备诊断日志).
//!
//! Firmware: UpdateFirmwareConf, then FirmwareStatusNotificationReq through ACCEPTED,
//! DOWNLOADING, DOWNLOADED (or DOWNLOAD_FAILED when the MD5 of the image does not match the
//! request, seed "充电站会校验文件的md5值"), INSTALLING once no transaction is running, then a
//! reboot and a BootNotificationReq with the new version (seed: the backend confirms the update
//! by that version), followed by INSTALLED. The image is simulated: [`firmware_image`] is a
//! deterministic function of the file name and version, so the backend can compute the MD5 the
//! charger will find.

use md5::{Digest, Md5};
use proto::mqtt::pb;

use super::{ChargerClient, ClientEvent, Phase, Purpose, Timer};
use crate::time::{Duration, Instant};

/// The bytes a simulated FTP server serves for `file_name` at `version` (4 KiB).
pub fn firmware_image(file_name: &str, version: &str) -> Vec<u8> {
    let line = format!("chargestorm firmware image {file_name} version {version}\n");
    line.bytes().cycle().take(4096).collect()
}

/// The lowercase hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FwStep {
    /// Waiting for the retrieve time.
    Waiting,
    /// Downloading.
    Downloading,
    /// Downloaded, waiting for every connector to be idle.
    Downloaded,
    /// Installing.
    Installing,
}

#[derive(Debug, Clone, Default)]
pub(super) struct FirmwareProc {
    job: Option<(pb::UpdateFirmwareReq, FwStep)>,
    /// The last status reported (TriggerMessage re-sends it).
    status: pb::FirmwareStatus,
    version: String,
    /// Installed before the reboot: INSTALLED is reported after the next login.
    installed: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct DiagnosticsProc {
    file_name: Option<String>,
    location: String,
    status: pb::DiagnosticsStatus,
}

impl ChargerClient {
    pub(super) fn on_update_firmware(
        &mut self,
        now: Instant,
        seq: u32,
        req: pb::UpdateFirmwareReq,
    ) {
        let busy = self.firmware.job.is_some();
        let status = if busy {
            pb::RequestStatus::Rejected
        } else {
            pb::RequestStatus::Accepted
        };
        self.send_plain(
            now,
            Some(seq),
            pb::UpdateFirmwareConf {
                status: status as i32,
            }
            .into(),
        );
        if busy {
            return;
        }
        let version = req.version.clone();
        let unix = self.config.clock.unix_s(now);
        let wait = u64::try_from(req.retrieve_time_unix_s.saturating_sub(unix)).unwrap_or(0);
        self.firmware.job = Some((req, FwStep::Waiting));
        self.firmware.version = version;
        self.firmware_status(now, pb::FirmwareStatus::Accepted, "");
        self.set_timer(Timer::Firmware, Some(now + Duration::from_secs(wait)));
    }

    pub(super) fn firmware_step(&mut self, _deadline: Instant, now: Instant) {
        let Some((req, step)) = self.firmware.job.clone() else {
            return;
        };
        match step {
            FwStep::Waiting => {
                self.set_step(FwStep::Downloading);
                self.firmware_status(now, pb::FirmwareStatus::Downloading, "");
                self.set_timer(Timer::Firmware, Some(now + self.config.firmware_download));
            }
            FwStep::Downloading => self.finish_download(now, &req),
            FwStep::Downloaded => {
                if self.connectors.iter().any(|c| c.active.is_some()) {
                    // Install only when idle; look again in 10 s.
                    self.set_timer(Timer::Firmware, Some(now + Duration::from_secs(10)));
                } else {
                    self.set_step(FwStep::Installing);
                    self.firmware_status(now, pb::FirmwareStatus::Installing, "");
                    self.set_timer(Timer::Firmware, Some(now + self.config.firmware_install));
                }
            }
            FwStep::Installing => {
                self.firmware.job = None;
                self.identity.firmware_version = req.version.clone();
                self.firmware.installed = Some(req.version);
                self.begin_reboot(now, pb::BootReason::FirmwareUpdate);
            }
        }
    }

    fn finish_download(&mut self, now: Instant, req: &pb::UpdateFirmwareReq) {
        if !req.location_url.starts_with("ftp://") {
            self.firmware.job = None;
            let info = "unsupported location scheme (FTP expected)";
            self.firmware_status(now, pb::FirmwareStatus::DownloadFailed, info);
            return;
        }
        let found = md5_hex(&firmware_image(&req.file_name, &req.version));
        if !found.eq_ignore_ascii_case(req.md5_hex.trim()) {
            self.firmware.job = None;
            let info = format!("md5 mismatch: expected {}, image has {found}", req.md5_hex);
            self.firmware_status(now, pb::FirmwareStatus::DownloadFailed, &info);
            return;
        }
        self.set_step(FwStep::Downloaded);
        self.firmware_status(now, pb::FirmwareStatus::Downloaded, "");
        self.set_timer(Timer::Firmware, Some(now));
    }

    fn set_step(&mut self, step: FwStep) {
        if let Some((_, s)) = &mut self.firmware.job {
            *s = step;
        }
    }

    /// Reports a firmware step (and tells the application).
    fn firmware_status(&mut self, now: Instant, status: pb::FirmwareStatus, info: &str) {
        self.firmware.status = status;
        let version = self.firmware.version.clone();
        self.events.push_back(ClientEvent::Firmware {
            status,
            version: version.clone(),
        });
        if self.phase == Phase::Online {
            let req = pb::FirmwareStatusNotificationReq {
                status: status as i32,
                version,
                info: info.to_owned(),
            };
            self.send_request(now, now, req.into(), Purpose::Notification);
        }
    }

    /// After a login following an installation: report INSTALLED.
    pub(super) fn firmware_after_login(&mut self, now: Instant) {
        if let Some(version) = self.firmware.installed.take() {
            self.firmware.version = version;
            self.firmware_status(now, pb::FirmwareStatus::Installed, "");
        }
    }

    /// TriggerMessage: the last firmware status again.
    pub(super) fn resend_firmware_status(&mut self, now: Instant) {
        let status = if self.firmware.status == pb::FirmwareStatus::Unspecified {
            pb::FirmwareStatus::Installed
        } else {
            self.firmware.status
        };
        let req = pb::FirmwareStatusNotificationReq {
            status: status as i32,
            version: self.identity.firmware_version.clone(),
            info: String::new(),
        };
        self.send_request(now, now, req.into(), Purpose::Notification);
    }

    pub(super) fn on_get_diagnostics(
        &mut self,
        now: Instant,
        seq: u32,
        req: pb::GetDiagnosticsReq,
    ) {
        let busy = self.diagnostics.file_name.is_some();
        let file_name = if busy || req.location_url.is_empty() {
            String::new()
        } else {
            format!(
                "diag-{}-{}.log",
                self.identity.serial,
                self.config.clock.unix_s(now)
            )
        };
        self.send_plain(
            now,
            Some(seq),
            pb::GetDiagnosticsConf {
                file_name: file_name.clone(),
            }
            .into(),
        );
        if file_name.is_empty() {
            return;
        }
        self.diagnostics.file_name = Some(file_name);
        self.diagnostics.location = req.location_url;
        self.diagnostics_status(now, pb::DiagnosticsStatus::Uploading);
        self.set_timer(
            Timer::Diagnostics,
            Some(now + self.config.diagnostics_upload),
        );
    }

    pub(super) fn diagnostics_step(&mut self, _deadline: Instant, now: Instant) {
        let location = std::mem::take(&mut self.diagnostics.location);
        let supported = ["ftp://", "http://", "https://"]
            .iter()
            .any(|s| location.starts_with(s));
        let status = if supported {
            pb::DiagnosticsStatus::Uploaded
        } else {
            pb::DiagnosticsStatus::UploadFailed
        };
        self.diagnostics_status(now, status);
        self.diagnostics.file_name = None;
    }

    fn diagnostics_status(&mut self, now: Instant, status: pb::DiagnosticsStatus) {
        self.diagnostics.status = status;
        self.events.push_back(ClientEvent::Diagnostics { status });
        if self.phase == Phase::Online {
            let req = pb::DiagnosticsStatusNotificationReq {
                status: status as i32,
                file_name: self.diagnostics.file_name.clone().unwrap_or_default(),
            };
            self.send_request(now, now, req.into(), Purpose::Notification);
        }
    }

    /// TriggerMessage: the last diagnostics status again (IDLE if none ran).
    pub(super) fn resend_diagnostics_status(&mut self, now: Instant) {
        let status = if self.diagnostics.status == pb::DiagnosticsStatus::Unspecified {
            pb::DiagnosticsStatus::Idle
        } else {
            self.diagnostics.status
        };
        let req = pb::DiagnosticsStatusNotificationReq {
            status: status as i32,
            file_name: self.diagnostics.file_name.clone().unwrap_or_default(),
        };
        self.send_request(now, now, req.into(), Purpose::Notification);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_and_md5_are_deterministic() {
        let a = firmware_image("fw.bin", "2.0.0");
        assert_eq!(a.len(), 4096);
        assert_eq!(a, firmware_image("fw.bin", "2.0.0"));
        assert_ne!(md5_hex(&a), md5_hex(&firmware_image("fw.bin", "2.0.1")));
        // RFC 1321 test vector.
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
