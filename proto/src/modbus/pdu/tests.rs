//! Byte fixtures and properties for request and response PDUs.

use super::*;
use proptest::prelude::*;

fn encode_request(request: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    request.encode(&mut out).unwrap();
    out
}

fn encode_response(response: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    response.encode(&mut out).unwrap();
    out
}

#[test]
fn read_holding_registers_request() {
    let pdu = [
        0x03, // function: read holding registers
        0x20, 0x00, // starting address 0x2000
        0x00, 0x06, // quantity 6
    ];
    let request = Request::decode(&pdu).unwrap();
    assert_eq!(
        request,
        Request::ReadHoldingRegisters {
            address: 0x2000,
            quantity: 6
        }
    );
    assert_eq!(encode_request(&request), pdu);
}

#[test]
fn write_multiple_registers_request_from_en_plus_clock_write() {
    // EN+ sets the DJSF1352 clock: 01 10 00 1E 00 03 06 17 03 13 0E 18 00 (+ CRC).
    let pdu = [
        0x10, // function: write multiple registers
        0x00, 0x1E, // starting address 0x001E
        0x00, 0x03, // quantity 3
        0x06, // byte count 6
        0x17, 0x03, // 2023, March
        0x13, 0x0E, // 19th, 14 h
        0x18, 0x00, // 24 min, 0 s
    ];
    let request = Request::decode(&pdu).unwrap();
    assert_eq!(
        request,
        Request::WriteMultipleRegisters {
            address: 0x001E,
            values: vec![0x1703, 0x130E, 0x1800]
        }
    );
    assert_eq!(encode_request(&request), pdu);
}

#[test]
fn write_multiple_coils_request() {
    // MB AP §6.11 example: 10 coils from 19 (0x13), data CD 01.
    let pdu = [0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01];
    let request = Request::decode(&pdu).unwrap();
    let Request::WriteMultipleCoils { address, coils } = &request else {
        panic!("{request:?}")
    };
    assert_eq!(*address, 0x13);
    assert_eq!(
        coils,
        &[
            true, false, true, true, false, false, true, true, true, false
        ]
    );
    assert_eq!(encode_request(&request), pdu);
}

#[test]
fn write_single_coil_values() {
    assert_eq!(
        Request::decode(&[0x05, 0x00, 0xAC, 0xFF, 0x00]).unwrap(),
        Request::WriteSingleCoil {
            address: 0xAC,
            on: true
        }
    );
    assert_eq!(
        Request::decode(&[0x05, 0x00, 0xAC, 0x12, 0x34]),
        Err(PduError::InvalidCoilValue { value: 0x1234 })
    );
}

#[test]
fn request_quantity_limits() {
    assert_eq!(
        Request::decode(&[0x03, 0x00, 0x00, 0x00, 0x00]),
        Err(PduError::QuantityOutOfRange {
            function: 0x03,
            quantity: 0,
            max: 125
        })
    );
    assert_eq!(
        Request::decode(&[0x04, 0x00, 0x00, 0x00, 0x7E]),
        Err(PduError::QuantityOutOfRange {
            function: 0x04,
            quantity: 126,
            max: 125
        })
    );
    assert!(Request::decode(&[0x04, 0x00, 0x00, 0x00, 0x7D]).is_ok());
    assert!(Request::decode(&[0x01, 0x00, 0x00, 0x07, 0xD0]).is_ok());
    assert!(Request::decode(&[0x01, 0x00, 0x00, 0x07, 0xD1]).is_err());
    let err = Request::decode(&[0x03, 0x00, 0x00, 0x00, 0x00]).unwrap_err();
    assert_eq!(err.exception_code(), ExceptionCode::IllegalDataValue);
}

#[test]
fn request_length_and_byte_count_errors() {
    assert_eq!(Request::decode(&[]), Err(PduError::Empty));
    assert_eq!(
        Request::decode(&[0x03, 0x00, 0x00, 0x00]),
        Err(PduError::BadLength {
            function: 0x03,
            expected: 5,
            actual: 4
        })
    );
    assert_eq!(
        Request::decode(&[0x06, 0x00, 0x01, 0x00, 0x02, 0xFF]),
        Err(PduError::BadLength {
            function: 0x06,
            expected: 5,
            actual: 6
        })
    );
    // Two registers announced, byte count 2.
    assert_eq!(
        Request::decode(&[0x10, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x01]),
        Err(PduError::ByteCountMismatch {
            function: 0x10,
            byte_count: 2,
            expected: 4
        })
    );
    let err = Request::decode(&[0x2B, 0x0E, 0x01, 0x00]).unwrap_err();
    assert_eq!(err, PduError::UnsupportedFunction { function: 0x2B });
    assert_eq!(err.exception_code(), ExceptionCode::IllegalFunction);
}

#[test]
fn read_registers_response() {
    // The DTSU666/DDSU666 probe reply of reference §2.1: 230.2 V and 16 A as ABCD floats.
    let pdu = [
        0x03, // function
        0x08, // byte count
        0x43, 0x66, 0x33, 0x33, // 230.2
        0x41, 0x80, 0x00, 0x00, // 16.0
    ];
    let response = Response::decode(&pdu).unwrap();
    assert_eq!(
        response,
        Response::ReadHoldingRegisters(vec![0x4366, 0x3333, 0x4180, 0x0000])
    );
    assert_eq!(encode_response(&response), pdu);
}

#[test]
fn exception_response() {
    // pymodbus' reply to an unmapped read (reference §4): function 0x83, code 2.
    let pdu = [0x83, 0x02];
    let response = Response::decode(&pdu).unwrap();
    assert_eq!(
        response,
        Response::exception(
            FunctionCode::ReadHoldingRegisters,
            ExceptionCode::IllegalDataAddress
        )
    );
    assert_eq!(response.function(), FunctionCode::ReadHoldingRegisters);
    assert_eq!(encode_response(&response), pdu);
    assert_eq!(
        Response::decode(&[0x84]),
        Err(PduError::BadLength {
            function: 0x84,
            expected: 2,
            actual: 1
        })
    );
}

#[test]
fn response_odd_register_byte_count() {
    assert_eq!(
        Response::decode(&[0x04, 0x03, 0x00, 0x01, 0x02]),
        Err(PduError::ByteCountMismatch {
            function: 0x04,
            byte_count: 3,
            expected: 4
        })
    );
}

#[test]
fn write_responses() {
    // EN+ clock-write reply: 01 10 00 1E 00 03 (+ CRC).
    let pdu = [0x10, 0x00, 0x1E, 0x00, 0x03];
    let response = Response::decode(&pdu).unwrap();
    assert_eq!(
        response,
        Response::WriteMultipleRegisters {
            address: 0x1E,
            quantity: 3
        }
    );
    assert_eq!(encode_response(&response), pdu);
}

#[test]
fn encode_rejects_oversized_pdus() {
    let response = Response::ReadHoldingRegisters(vec![0; 127]);
    let mut out = vec![0xAA];
    assert_eq!(
        response.encode(&mut out),
        Err(PduError::TooLong { len: 256 })
    );
    assert_eq!(out, [0xAA], "output untouched on error");
    assert!(
        Response::ReadHoldingRegisters(vec![0; 125])
            .encode(&mut out)
            .is_ok()
    );
}

#[test]
fn stream_lengths() {
    assert_eq!(request_len(&[]), Ok(None));
    assert_eq!(request_len(&[0x03]), Ok(Some(5)));
    assert_eq!(request_len(&[0x10, 0, 0, 0, 2]), Ok(None));
    assert_eq!(request_len(&[0x10, 0, 0, 0, 2, 4]), Ok(Some(10)));
    assert_eq!(
        request_len(&[0x2B]),
        Err(PduError::UnsupportedFunction { function: 0x2B })
    );
    assert_eq!(response_len(&[0x03]), Ok(None));
    assert_eq!(response_len(&[0x03, 0x0C]), Ok(Some(14)));
    assert_eq!(response_len(&[0x83]), Ok(Some(2)));
    assert_eq!(response_len(&[0x06]), Ok(Some(5)));
}

fn arb_request() -> impl Strategy<Value = Request> {
    let addr = any::<u16>();
    prop_oneof![
        (addr, 1..=MAX_READ_BITS)
            .prop_map(|(address, quantity)| Request::ReadCoils { address, quantity }),
        (addr, 1..=MAX_READ_BITS)
            .prop_map(|(address, quantity)| Request::ReadDiscreteInputs { address, quantity }),
        (addr, 1..=MAX_READ_REGISTERS)
            .prop_map(|(address, quantity)| Request::ReadHoldingRegisters { address, quantity }),
        (addr, 1..=MAX_READ_REGISTERS)
            .prop_map(|(address, quantity)| Request::ReadInputRegisters { address, quantity }),
        (addr, any::<bool>()).prop_map(|(address, on)| Request::WriteSingleCoil { address, on }),
        (addr, any::<u16>())
            .prop_map(|(address, value)| Request::WriteSingleRegister { address, value }),
        (
            addr,
            proptest::collection::vec(any::<bool>(), 1..=usize::from(MAX_WRITE_COILS))
        )
            .prop_map(|(address, coils)| Request::WriteMultipleCoils { address, coils }),
        (
            addr,
            proptest::collection::vec(any::<u16>(), 1..=usize::from(MAX_WRITE_REGISTERS))
        )
            .prop_map(|(address, values)| Request::WriteMultipleRegisters { address, values }),
    ]
}

fn arb_response() -> impl Strategy<Value = Response> {
    let addr = any::<u16>();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..=250)
            .prop_map(|bytes| Response::ReadCoils(unpack_bits(&bytes))),
        proptest::collection::vec(any::<u16>(), 0..=125).prop_map(Response::ReadInputRegisters),
        proptest::collection::vec(any::<u16>(), 0..=125).prop_map(Response::ReadHoldingRegisters),
        (addr, any::<u16>())
            .prop_map(|(address, value)| Response::WriteSingleRegister { address, value }),
        (addr, any::<u16>())
            .prop_map(|(address, quantity)| Response::WriteMultipleRegisters { address, quantity }),
        (1u8..0x80, any::<u8>())
            .prop_map(|(f, c)| Response::exception(FunctionCode::new(f), ExceptionCode::new(c))),
    ]
}

proptest! {
    #[test]
    fn request_round_trip(request in arb_request()) {
        let bytes = encode_request(&request);
        prop_assert_eq!(bytes.len(), request.encoded_len());
        prop_assert_eq!(request_len(&bytes), Ok(Some(bytes.len())));
        prop_assert_eq!(Request::decode(&bytes), Ok(request));
    }

    #[test]
    fn response_round_trip(response in arb_response()) {
        let bytes = encode_response(&response);
        prop_assert_eq!(bytes.len(), response.encoded_len());
        prop_assert_eq!(response_len(&bytes), Ok(Some(bytes.len())));
        prop_assert_eq!(Response::decode(&bytes), Ok(response));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(request) = Request::decode(&bytes) {
            // Write Multiple Coils may carry non-zero padding bits that re-encode as zeros.
            if !matches!(request, Request::WriteMultipleCoils { .. }) {
                prop_assert_eq!(encode_request(&request), bytes.clone());
            }
        }
        if let Ok(response) = Response::decode(&bytes) {
            prop_assert_eq!(encode_response(&response), bytes.clone());
        }
        let _ = request_len(&bytes);
        let _ = response_len(&bytes);
    }
}
