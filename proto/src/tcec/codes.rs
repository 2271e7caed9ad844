//! DB4403/T 77-2020 Appendix B: alarm (表B.1–B.3) and event (表B.4) code tables.
//!
//! Each code carries its Chinese name and an English gloss, plus the category and level the
//! table assigns to it. Table B.3 lists `205` twice (环境温度过高 and 烟感报警); the Shenzhen
//! platform's own schema (tcec-http.md S6 `interface.xml`) numbers the smoke alarm `206`, which
//! is what this table uses.

use crate::tcec::code_enum::code_enum;

code_enum! {
    /// Alarm category, `AlarmType` (故障告警类型).
    pub enum AlarmType : "DB4403/T 77-2020 表B.1" {
        ChargingSystem = 1 => "充电系统故障", "charging system fault";
        BatterySystem = 2 => "电池系统故障", "battery system fault";
        DistributionSystem = 3 => "配电系统故障", "power distribution system fault";
    }
}

code_enum! {
    /// Alarm severity, `AlarmLevel` (故障告警级别).
    pub enum AlarmLevel : "DB4403/T 77-2020 表B.2" {
        PersonalSafety = 1 => "人身安全级", "personal safety";
        EquipmentSafety = 2 => "设备安全级", "equipment safety";
        Notice = 3 => "告警提示级", "notice";
    }
}

code_enum! {
    /// Alarm detail, `AlarmCode` (故障告警详细定义).
    pub enum AlarmCode : "DB4403/T 77-2020 表B.3" {
        AcContactorFault = 1 => "交流接触器故障", "AC contactor fault";
        EmergencyStop = 2 => "急停", "emergency stop";
        AmmeterCommFault = 3 => "电流表通讯故障", "ammeter communication fault";
        InsulationMonitorFault = 4 => "绝缘监测故障", "insulation monitoring fault";
        InsulationDeviceCommFault = 5 => "绝缘设备通信故障", "insulation monitor communication fault";
        InsulationMonitorAbnormal = 6 => "绝缘监测异常", "insulation monitoring abnormal";
        InsulationModuleFault = 7 => "绝缘监测模块故障", "insulation monitoring module fault";
        AbnormalPowerLoss = 8 => "异常掉电", "abnormal power loss";
        SmokeAlarm = 9 => "烟雾报警告警", "smoke alarm";
        AcBreakerFault = 10 => "交流断路器故障", "AC circuit breaker fault";
        DcOutputContactorFault = 11 => "直流母线输出接触器故障", "DC bus output contactor fault";
        DcOutputFuseFault = 12 => "直流母线输出熔断器故障", "DC bus output fuse fault";
        ConnectorLockFault = 13 => "充电接口电子锁故障", "connector electronic lock fault";
        FanFault = 14 => "充电桩风扇故障", "charger fan fault";
        SurgeArresterFault = 15 => "避雷器故障", "surge arrester fault";
        ControlPilotAlarm = 16 => "充电中车辆控制导引告警", "control pilot alarm while charging";
        ChargerOverTemperature = 17 => "充电桩过温故障", "charger over-temperature";
        ConnectorOverTemperature = 18 => "充电枪过温故障", "charging gun over-temperature";
        GunNotHolstered = 19 => "充电枪未归位故障", "charging gun not holstered";
        BmsAuxPowerAbnormal = 20 => "BMS 辅助电源异常", "BMS auxiliary power abnormal";
        PrechargeFailed = 21 => "预充失败告警", "pre-charge failed";
        IdleDcBusVoltageAbnormal = 22 => "空闲时直流母线电压异常告警", "DC bus voltage abnormal while idle";
        ModuleGroupCommFault = 23 => "整组模块通讯故障", "power module group communication fault";
        DischargeCircuitFault = 24 => "泄放电路故障", "bleeder circuit fault";
        VoltageMismatch = 25 => "车桩测量电压不一致", "vehicle and charger voltage readings disagree";
        ServiceDoorOpen = 26 => "维修门开停止充电", "service door open, charging stopped";
        BackendCommFault = 27 => "后台通讯故障", "backend communication fault";
        VehicleConnectorFault = 28 => "车辆充电连接器故障", "vehicle charging connector fault";
        VehicleHvRelayFault = 29 => "车辆侧高压继电器故障", "vehicle high-voltage relay fault";
        SingleModuleCommFault = 30 => "单模块通讯故障", "single power module communication fault";
        PowerModuleFault = 31 => "充电模块故障", "power module fault";
        BmsCommTimeout = 101 => "BMS 通讯超时", "BMS communication timeout";
        BatteryReversed = 102 => "电池反接故障", "battery reverse polarity";
        BatteryNotConnected = 103 => "充电前电池未连接", "battery not connected before charging";
        PackOverVoltage = 104 => "电池组过压", "battery pack over-voltage";
        PackConnectorFault = 105 => "电池组连接器故障", "battery pack connector fault";
        CellUnderVoltage = 106 => "单体电池电压过低", "cell voltage too low";
        CellOverVoltage = 107 => "单体电池电压过高", "cell voltage too high";
        SocAbnormal = 108 => "SOC 异常", "SOC abnormal";
        DetectionPoint2Fault = 109 => "车辆检测点 2 电压检测故障", "vehicle detection point 2 voltage fault";
        VehicleOtherFault = 110 => "车辆其他故障", "other vehicle fault";
        VehicleOverCurrent = 111 => "车辆侧电流过大", "vehicle-side over-current";
        VehicleOverVoltage = 112 => "车辆侧电压过高", "vehicle-side over-voltage";
        EnergyTransferFailed = 113 => "电量不能传输", "energy cannot be transferred";
        CurrentMismatch = 114 => "电流不匹配", "current mismatch";
        VehicleConnectorOverTemperature = 115 => "车辆侧输出连接器过温故障", "vehicle output connector over-temperature";
        BmsComponentOverTemperature = 116 => "BMS 元件，输出连接器过温", "BMS component or output connector over-temperature";
        PreInsulationContactorVoltageAbnormal = 117 => "绝缘检测前直流接触器外侧电压异常", "voltage outside DC contactor abnormal before insulation check";
        PreChargeBatteryVoltageLow = 118 => "充电前电池电压检测过低", "battery voltage too low before charging";
        PreChargeBatteryVoltageHigh = 119 => "充电前电池电压检测过高", "battery voltage too high before charging";
        TractionBatteryOverTemperature = 120 => "动力蓄电池温度过高", "traction battery over-temperature";
        TractionBatteryInsulation = 121 => "动力蓄电池绝缘状态", "traction battery insulation fault";
        BatteryChargeOverCurrent = 122 => "蓄电池充电过流告警", "battery charging over-current";
        GridOverVoltage = 201 => "电压过高", "supply over-voltage";
        Overload = 202 => "过负荷", "overload";
        SwitchTripped = 203 => "开关跳闸", "switch tripped";
        TransformerOverTemperature = 204 => "变压器温度过高", "transformer over-temperature";
        AmbientOverTemperature = 205 => "环境温度过高", "ambient over-temperature";
        DistributionSmokeAlarm = 206 => "烟感报警", "smoke detector alarm (205 in the seed table; 206 per the platform schema)";
    }
}

impl AlarmCode {
    /// The alarm category the table files this code under (by code range: 1–99 charging
    /// system, 101–199 battery system, 201–299 distribution), `None` for undefined codes.
    pub const fn alarm_type(self) -> Option<AlarmType> {
        if !self.is_known() {
            return None;
        }
        Some(match self.code() {
            1..=99 => AlarmType::ChargingSystem,
            101..=199 => AlarmType::BatterySystem,
            _ => AlarmType::DistributionSystem,
        })
    }

    /// The level the table assigns to this code (故障级别分类), `None` for undefined codes.
    pub const fn default_level(self) -> Option<AlarmLevel> {
        use AlarmCode::*;
        Some(match self {
            InsulationMonitorFault
            | SmokeAlarm
            | IdleDcBusVoltageAbnormal
            | ServiceDoorOpen
            | TractionBatteryInsulation => AlarmLevel::PersonalSafety,
            AcContactorFault
            | EmergencyStop
            | AmmeterCommFault
            | AbnormalPowerLoss
            | AcBreakerFault
            | FanFault
            | GunNotHolstered
            | BmsAuxPowerAbnormal
            | ModuleGroupCommFault
            | BackendCommFault
            | BatteryNotConnected
            | VehicleOtherFault
            | EnergyTransferFailed
            | CurrentMismatch
            | PreChargeBatteryVoltageLow
            | PreChargeBatteryVoltageHigh => AlarmLevel::Notice,
            Other(_) => return None,
            _ => AlarmLevel::EquipmentSafety,
        })
    }
}

code_enum! {
    /// Event category, `EventType` (事件类型).
    pub enum EventType : "DB4403/T 77-2020 表21, 表B.4" {
        Filing = 1 => "备案", "filing";
        Acceptance = 2 => "验收", "acceptance";
        SafetyInspection = 3 => "安全检查", "safety inspection";
        EquipmentVerification = 4 => "设备核查", "equipment verification";
        SelfInspection = 5 => "自查", "self-inspection";
        OtherInspection = 6 => "其他检查", "other inspection";
        MajorEvent = 7 => "重大事件", "major event";
    }
}

code_enum! {
    /// Event detail, `EventCode` (事件编码).
    pub enum EventCode : "DB4403/T 77-2020 表B.4" {
        OperatorDocumentsSubmitted = 1001 => "运营商材料已经提交", "operator documents submitted";
        EquipmentDocumentsSubmitted = 1002 => "设备材料已经提交", "equipment documents submitted";
        EquipmentOnline = 1003 => "设备已经上线", "equipment online";
        EquipmentAccepted = 2001 => "设备已经验收", "equipment accepted";
        InspectionScheduled = 3001 => "检查任务确定", "inspection task scheduled";
        SelfCheckDocumentsPrepared = 3002 => "安全自检材料已经准备", "self-check documents prepared";
        SelfCheckDocumentsSubmitted = 3003 => "安全自检材料已经提交", "self-check documents submitted";
        OnSiteInspectionStarted = 3004 => "现场检查入场", "on-site inspection started";
        OnSiteInspectionCompleted = 3005 => "现场检查完成", "on-site inspection completed";
        OnSiteScoringCompleted = 3006 => "现场评分总结完成", "on-site scoring completed";
        OnSiteInspectionSigned = 3007 => "安全自检现场检查结束-企业签字", "on-site inspection closed, signed by the company";
        ReportPassed = 3008 => "获得报告通过", "inspection report passed";
        ReportFailed = 3009 => "获得报告不通过", "inspection report failed";
        VerificationDocumentsSubmitted = 4001 => "设备材料已经提交", "verification documents submitted";
        VerificationContractPending = 4002 => "核查合同中", "verification contract pending";
        VerificationContractApproved = 4003 => "核查合同通过", "verification contract approved";
        OnSiteVerificationStarted = 4004 => "现场核查开始", "on-site verification started";
        OnSiteVerificationPassedFirst = 4005 => "现场核查一次通过", "on-site verification passed first time";
        OnSiteVerificationSecondRound = 4006 => "现场核查二次核查中", "second on-site verification in progress";
        VerificationPassed = 4007 => "核查通过", "verification passed";
        VerificationFailed = 4008 => "核查不通过", "verification failed";
        SelfInspectionStarted = 5001 => "自查启动", "self-inspection started";
        SelfInspectionPassed = 5002 => "自查通过", "self-inspection passed";
        SelfInspectionFailed = 5003 => "自查不通过", "self-inspection failed";
        FireEquipmentCheck = 6001 => "消防设备检查", "fire equipment check";
        FireEquipmentAccepted = 6002 => "消防设备验收通过", "fire equipment accepted";
        FireEquipmentFault = 6003 => "消防设备故障", "fire equipment fault";
        DistributionFault = 7001 => "配电故障", "power distribution fault";
        StationServiceFault = 7002 => "场站服务故障", "station service fault";
        VehicleFault = 7003 => "车辆故障", "vehicle fault";
    }
}

impl EventCode {
    /// The event category of this code (its thousands digit), `None` for undefined codes.
    pub const fn event_type(self) -> Option<EventType> {
        if !self.is_known() {
            return None;
        }
        Some(EventType::from_code(self.code() / 1000))
    }

    /// The level the table assigns to this code (级别分类), `None` for undefined codes.
    pub const fn default_level(self) -> Option<AlarmLevel> {
        use EventCode::*;
        Some(match self {
            OperatorDocumentsSubmitted
            | EquipmentDocumentsSubmitted
            | EquipmentOnline
            | SelfInspectionStarted
            | SelfInspectionPassed
            | SelfInspectionFailed => AlarmLevel::Notice,
            EquipmentAccepted
            | VerificationFailed
            | FireEquipmentCheck
            | FireEquipmentAccepted
            | FireEquipmentFault
            | DistributionFault
            | StationServiceFault
            | VehicleFault => AlarmLevel::PersonalSafety,
            Other(_) => return None,
            _ => AlarmLevel::EquipmentSafety,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_table_shape() {
        assert_eq!(AlarmCode::KNOWN.len(), 31 + 22 + 6);
        assert_eq!(AlarmCode::from_code(101), AlarmCode::BmsCommTimeout);
        assert_eq!(
            AlarmCode::BmsCommTimeout.alarm_type(),
            Some(AlarmType::BatterySystem)
        );
        assert_eq!(
            AlarmCode::SmokeAlarm.default_level(),
            Some(AlarmLevel::PersonalSafety)
        );
        assert_eq!(
            AlarmCode::AcContactorFault.default_level(),
            Some(AlarmLevel::Notice)
        );
        assert_eq!(
            AlarmCode::PowerModuleFault.default_level(),
            Some(AlarmLevel::EquipmentSafety)
        );
        assert_eq!(AlarmCode::DistributionSmokeAlarm.code(), 206);
        assert_eq!(
            AlarmCode::DistributionSmokeAlarm.alarm_type(),
            Some(AlarmType::DistributionSystem)
        );
        assert_eq!(AlarmCode::from_code(99), AlarmCode::Other(99));
        assert_eq!(AlarmCode::Other(99).alarm_type(), None);
        for code in AlarmCode::KNOWN {
            assert!(code.name_zh().is_some() && code.name_en().is_some());
            assert!(code.alarm_type().is_some() && code.default_level().is_some());
        }
    }

    #[test]
    fn event_table_shape() {
        assert_eq!(EventCode::KNOWN.len(), 30);
        for code in EventCode::KNOWN {
            let ty = code.event_type().unwrap();
            assert!(ty.is_known(), "{code} has category {ty}");
        }
        assert_eq!(
            EventCode::ReportPassed.event_type(),
            Some(EventType::SafetyInspection)
        );
        assert_eq!(
            EventCode::VerificationFailed.default_level(),
            Some(AlarmLevel::PersonalSafety)
        );
        assert_eq!(
            EventCode::ReportPassed.default_level(),
            Some(AlarmLevel::EquipmentSafety)
        );
        assert_eq!(
            EventCode::SelfInspectionPassed.default_level(),
            Some(AlarmLevel::Notice)
        );
    }

    #[test]
    fn codes_decode_from_strings_and_numbers() {
        // The seed's alarm examples send codes as strings ("AlarmCode": "101").
        assert_eq!(
            serde_json::from_str::<AlarmCode>("\"101\"").unwrap(),
            AlarmCode::BmsCommTimeout
        );
        assert_eq!(
            serde_json::from_str::<EventCode>("3001").unwrap(),
            EventCode::InspectionScheduled
        );
        assert_eq!(
            serde_json::to_string(&AlarmCode::BmsCommTimeout).unwrap(),
            "101"
        );
        assert_eq!(
            AlarmCode::BmsCommTimeout.to_string(),
            "BMS communication timeout (101)"
        );
        assert_eq!(AlarmCode::Other(7777).to_string(), "undefined code 7777");
        assert!(serde_json::from_str::<AlarmCode>("\"x\"").is_err());
    }
}
