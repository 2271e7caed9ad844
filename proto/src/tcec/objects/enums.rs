//! Enumerations of the data objects (DB4403/T 77-2020 chapters 6–7, T/CEC 102.2/102.3).

use crate::tcec::code_enum::code_enum;

code_enum! {
    /// `StationType` 站点类型.
    pub enum StationType : "DB4403/T 77-2020 表2" {
        Public = 1 => "公共", "public";
        Personal = 50 => "个人", "personal";
        Bus = 100 => "公交（专用）", "bus (dedicated)";
        Sanitation = 101 => "环卫（专用）", "sanitation (dedicated)";
        Logistics = 102 => "物流（专用）", "logistics (dedicated)";
        Taxi = 103 => "出租车（专用）", "taxi (dedicated)";
        DumpTruck = 104 => "电动自卸车（专用）", "electric dump truck (dedicated)";
        Other255 = 255 => "其他", "other";
    }
}

code_enum! {
    /// `StationStatus` 站点状态.
    pub enum StationStatus : "DB4403/T 77-2020 表2" {
        Unknown = 0 => "未知", "unknown";
        UnderConstruction = 1 => "建设中", "under construction";
        Closed = 5 => "关闭下线", "closed, offline";
        Maintenance = 6 => "维护中", "under maintenance";
        InOperation = 50 => "正常使用", "in operation";
    }
}

code_enum! {
    /// `Construction` 建设场所.
    pub enum Construction : "DB4403/T 77-2020 表2" {
        Residential = 1 => "居民区", "residential area";
        PublicInstitution = 2 => "公共机构", "public institution";
        Enterprise = 3 => "企事业单位", "enterprise or institution";
        OfficeBuilding = 4 => "写字楼", "office building";
        IndustrialPark = 5 => "工业园区", "industrial park";
        TransportHub = 6 => "交通枢纽", "transport hub";
        SportsCultural = 7 => "大型文体设施", "large sports or cultural venue";
        UrbanGreen = 8 => "城市绿地", "urban green space";
        BuildingCarPark = 9 => "大型建筑配建停车场", "car park of a large building";
        Roadside = 10 => "路边停车位", "roadside parking";
        HighwayServiceArea = 11 => "城际高速服务区", "intercity highway service area";
        Other255 = 255 => "其他", "other";
    }
}

code_enum! {
    /// A 0/1 flag: `SupportOrder`, `OpenAllDay`, `ParkFree`.
    pub enum YesNo : "DB4403/T 77-2020 表2, 表3" {
        No = 0 => "否", "no";
        Yes = 1 => "是", "yes";
    }
}

code_enum! {
    /// `OpratorType` 运营属性 (the spelling is the standard's).
    pub enum OperationType : "DB4403/T 77-2020 表3" {
        SelfOperated = 1 => "由本运营商自营", "operated by this operator";
        OperatedOnBehalf = 2 => "由本运营商代运营", "operated by this operator on behalf of the owner";
    }
}

code_enum! {
    /// `EquipmentType` 设备类型.
    pub enum EquipmentType : "DB4403/T 77-2020 表4" {
        Dc = 1 => "直流设备", "DC charger";
        Ac = 2 => "交流设备", "AC charger";
        AcDc = 3 => "交直流一体设备", "combined AC/DC charger";
        Wireless = 4 => "无线充电", "wireless charger";
        ChargeDischarge = 5 => "充放电设备", "bidirectional (charge/discharge) equipment";
        Other255 = 255 => "其他", "other";
    }
}

code_enum! {
    /// `EquipmentStatus` 设备状态.
    pub enum EquipmentStatus : "DB4403/T 77-2020 表5" {
        UnderConstruction = 1 => "建设中", "under construction";
        Decommissioned = 5 => "关闭下线：停用", "closed, out of service";
        Maintenance = 6 => "维护中：长时间维护", "long-term maintenance";
        InOperation = 50 => "正常使用，验收后", "in operation (after acceptance)";
    }
}

code_enum! {
    /// `NewNationalStandard` (DB4403) / `NationalStandard` (T/CEC) 支持标准版本.
    pub enum NationalStandard : "DB4403/T 77-2020 表5" {
        Gb2011 = 1 => "2011 版", "GB/T 20234 2011 edition";
        Gb2015 = 2 => "2015 版", "GB/T 20234 2015 edition";
        HighPowerAc = 3 => "大功率交流", "high-power AC";
        Other255 = 255 => "其他", "other";
    }
}

code_enum! {
    /// `ConnectorType` 设备接口类型.
    pub enum ConnectorType : "DB4403/T 77-2020 表6" {
        HouseholdSocket = 1 => "家用插座（模式 2）", "household socket (mode 2)";
        AcSocket = 2 => "交流接口插座（模式 3，连接方式 B）", "AC socket (mode 3, case B)";
        AcPlug = 3 => "交流接口插头（带枪线，模式 3，连接方式 C）", "AC tethered plug (mode 3, case C)";
        DcPlug = 4 => "直流接口插头（带枪线，模式 4）", "DC tethered plug (mode 4)";
        HighPowerAcPlug = 5 => "大功率交流接口插头", "high-power AC plug";
        Other255 = 255 => "其他", "other";
    }
}

code_enum! {
    /// `BMSPowerType` BMS 辅助电源电压.
    pub enum BmsPowerType : "DB4403/T 77-2020 表7" {
        V12 = 1 => "12V", "12 V";
        V24 = 2 => "24V", "24 V";
        Adaptive = 3 => "自适应", "adaptive";
        Other255 = 255 => "其他", "other";
    }
}

code_enum! {
    /// Connector `Status` 设备接口状态 (`5` is a DB4403 addition to T/CEC).
    pub enum ConnectorStatus : "DB4403/T 77-2020 表8; T/CEC 102.2" {
        Offline = 0 => "离网", "offline";
        Idle = 1 => "空闲", "idle";
        OccupiedNotCharging = 2 => "占用（未充放电）", "occupied, not charging";
        OccupiedCharging = 3 => "占用（充放电中）", "occupied, charging or discharging";
        Reserved = 4 => "占用（预约锁定）", "occupied, reserved";
        ChargeComplete = 5 => "占用（充电完成）", "occupied, charge complete";
        Fault = 255 => "故障", "fault";
    }
}

code_enum! {
    /// `ParkStatus` 车位状态.
    pub enum ParkStatus : "DB4403/T 77-2020 表8" {
        Unknown = 0 => "未知", "unknown";
        Free = 10 => "空闲", "free";
        Occupied = 50 => "占用", "occupied";
    }
}

code_enum! {
    /// `LockStatus` 地锁状态 (parking ground lock).
    pub enum LockStatus : "DB4403/T 77-2020 表8" {
        Unknown = 0 => "未知", "unknown";
        Unlocked = 10 => "已解锁", "unlocked";
        Locked = 50 => "已上锁", "locked";
    }
}

code_enum! {
    /// `ConnectorLock` 充电枪电子锁 (the gun's electronic lock).
    pub enum ConnectorLock : "DB4403/T 77-2020 表9" {
        Unknown = 0 => "未知", "unknown";
        Unlocked = 1 => "解锁", "unlocked";
        Locked = 2 => "锁止", "locked";
        Other255 = 255 => "其他", "other";
    }
}

code_enum! {
    /// `AlarmStatus` 告警状态.
    pub enum AlarmStatus : "DB4403/T 77-2020 表19" {
        Recovered = 0 => "恢复", "recovered";
        Occurred = 1 => "发生", "occurred";
    }
}

code_enum! {
    /// `VideoType` 视频类型.
    pub enum VideoType : "DB4403/T 77-2020 表22" {
        Live = 1 => "实时", "live";
        Playback = 2 => "回放", "playback";
    }
}

code_enum! {
    /// A 0/1 alarm flag: `SmokAlam1/2`, `TranOverTemAlam`.
    pub enum AlarmFlag : "DB4403/T 77-2020 表18" {
        Normal = 0 => "正常", "normal";
        Alarm = 1 => "告警", "alarm";
    }
}

code_enum! {
    /// `Status` of a push acknowledgement and of `query_frequency`.
    pub enum AckStatus : "DB4403/T 77-2020 表28; T/CEC 102.2" {
        Accepted = 0 => "接受", "accepted";
        Dropped = 1 => "丢弃/忽略，不需要重试", "dropped or ignored, do not retry";
    }
}

code_enum! {
    /// `SuccStat` 成功状态.
    pub enum SuccStat : "DB4403/T 77-2020 表C.2; T/CEC 102.3" {
        Success = 0 => "成功", "success";
        Failure = 1 => "失败", "failure";
    }
}

code_enum! {
    /// `FailReason` of `query_token` (3–99 are operator-defined and decode as `Other`).
    pub enum TokenFailReason : "DB4403/T 77-2020 表C.2; T/CEC 102.4 附录A" {
        NoFailure = 0 => "无", "none";
        NoSuchOperator = 1 => "无此运营商", "no such operator";
        WrongSecret = 2 => "密钥错误", "wrong secret";
    }
}

code_enum! {
    /// `StartChargeSeqStat` 充电订单状态.
    pub enum StartChargeSeqStat : "T/CEC 102.3" {
        Starting = 1 => "启动中", "starting";
        Charging = 2 => "充电中", "charging";
        Stopping = 3 => "停止中", "stopping";
        Finished = 4 => "已结束", "finished";
        Unknown = 5 => "未知", "unknown";
    }
}

code_enum! {
    /// `FailReason` of `query_equip_auth` (3–99 operator-defined).
    pub enum EquipAuthFailReason : "T/CEC 102.3 query_equip_auth" {
        NoFailure = 0 => "无", "none";
        NotPluggedIn = 1 => "此设备尚未插枪", "gun not plugged in";
        DetectionFailed = 2 => "设备检测失败", "equipment self-check failed";
    }
}

code_enum! {
    /// `FailReason` of `query_start_charge` (90/91 from `query_start_charge_with_car`).
    pub enum StartChargeFailReason : "T/CEC 102.3 query_start_charge" {
        NoFailure = 0 => "无", "none";
        NoSuchEquipment = 1 => "此设备不存在", "equipment does not exist";
        EquipmentOffline = 2 => "此设备离线", "equipment offline";
        PlateNotRegistered = 90 => "车辆未备案", "vehicle not registered";
        AlreadyCharging = 91 => "车辆充电中", "vehicle already charging";
    }
}

code_enum! {
    /// `FailReason` of `query_stop_charge` and `notification_stop_charge_result`.
    pub enum StopChargeFailReason : "T/CEC 102.3 query_stop_charge" {
        NoFailure = 0 => "无", "none";
        NoSuchEquipment = 1 => "此设备不存在", "equipment does not exist";
        EquipmentOffline = 2 => "此设备离线", "equipment offline";
        AlreadyStopped = 3 => "设备已停止充电", "charging already stopped";
    }
}

code_enum! {
    /// `FailReason` of a T/CEC push acknowledgement and of `query_equip_business_policy`
    /// (only 0 is fixed; other values are operator-defined).
    pub enum GenericFailReason : "T/CEC 102.3" {
        NoFailure = 0 => "无", "none";
        ReceiveFailed = 1 => "接收失败", "receive failed";
    }
}

code_enum! {
    /// `StopReason` 充电结束原因 (5–99 operator-defined).
    pub enum StopReason : "T/CEC 102.3 notification_charge_order_info" {
        UserStopped = 0 => "用户手动停止充电", "stopped by the user";
        CustomerOperatorStopped = 1 => "客户归属地运营商平台停止充电", "stopped by the customer-owning operator";
        BmsStopped = 2 => "BMS停止充电", "stopped by the BMS";
        ChargerFault = 3 => "充电机设备故障", "charger fault";
        ConnectorDisconnected = 4 => "连接器断开", "connector disconnected";
    }
}

code_enum! {
    /// `ConfirmResult` of `notification_charge_order_info` (2–99 operator-defined).
    pub enum ConfirmResult : "T/CEC 102.3 notification_charge_order_info" {
        Agreed = 0 => "成功", "order agreed";
        Disputed = 1 => "争议交易", "order disputed";
    }
}

code_enum! {
    /// `DisputeReason` of `check_charge_orders` (4–99 operator-defined).
    pub enum DisputeReason : "T/CEC 102.3 check_charge_orders" {
        NoSuchOrder = 1 => "交易不存在", "order does not exist";
        MoneyMismatch = 2 => "交易金额错误", "amount mismatch";
        EnergyMismatch = 3 => "交易电量错误", "energy mismatch";
    }
}
