//! The bus a case runs on: the tester's view of the device under test.
//!
//! [`TestBus`] is all a [`CaseRun`](super::runner::CaseRun) needs. [`VirtualBus`](super::virtual_dut::VirtualBus)
//! puts chargestorm's own charger or BMS on an in-process segment and runs at full speed in
//! virtual time; the I/O shell (`hil::can`) implements it over a real CAN transport, where
//! frames arrive in real time and DUT actions go to an operator or a bench controller.

use proto::can::CanFrame;
use proto::time::Instant;

use super::script::DutAction;

/// The tester's side of a bus with a device under test on it.
pub trait TestBus {
    /// Puts a tester frame on the bus at `now`.
    fn send(&mut self, now: Instant, frame: CanFrame);

    /// The next frame from the device under test that arrived at or before `now`, with
    /// its arrival time.
    fn poll_receive(&mut self, now: Instant) -> Option<(Instant, CanFrame)>;

    /// The next time the bus has work of its own (a virtual DUT's timer or a delivery);
    /// `None` for a real bus, whose frames arrive when they arrive.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Runs the bus's own work due at `now` (a virtual DUT steps; a real bus does nothing).
    fn advance(&mut self, now: Instant);

    /// Does something to the device under test; false if it could not be done here (a
    /// real bench with no operator or controller for it).
    fn act(&mut self, now: Instant, action: DutAction) -> bool;
}
