//! The terminal loop on a `TestBackend` with scripted input: quitting, resizing, the end
//! of the run, frame pacing, and a simulation on another thread that never waits.

mod dashboard_common;

use dashboard_common::{busy_model, ch, empty_model, lines};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::Event;
use std::collections::VecDeque;
use std::io;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;
use tui::dashboard::App;
use tui::dashboard::app::UiCommand;
use tui::dashboard::bridge::bridge;
use tui::dashboard::model::ConnectorQuery;
use tui::dashboard::terminal::{EventSource, Feed, LoopEnd, run_loop};

/// Scripted events (`None`: one quiet wait), then silence. Waiting really waits out the
/// timeout (on a channel nobody sends on), as a quiet terminal would.
struct Script {
    events: VecDeque<Option<Event>>,
    silence: Receiver<()>,
    _keep: Sender<()>,
}

impl Script {
    fn new(events: impl IntoIterator<Item = Option<Event>>) -> Self {
        let (tx, rx) = channel();
        Script {
            events: events.into_iter().collect(),
            silence: rx,
            _keep: tx,
        }
    }
}

impl EventSource for Script {
    fn next_event(&mut self, timeout: Duration) -> io::Result<Option<Event>> {
        match self.events.pop_front() {
            Some(Some(e)) => Ok(Some(e)),
            Some(None) | None => {
                let _ = self.silence.recv_timeout(timeout);
                Ok(None)
            }
        }
    }
}

fn terminal(w: u16, h: u16) -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(w, h)).expect("test backend")
}

#[test]
fn q_ends_the_loop_after_the_simulation_has_seen_every_command() {
    let mut term = terminal(80, 24);
    let mut app = App::new();
    // Quiet until the first frame is drawn, then `p` and `q`.
    let mut events = Script::new([None, Some(Event::Key(ch('p'))), Some(Event::Key(ch('q')))]);
    let mut seen: Vec<Vec<UiCommand>> = Vec::new();
    let end = run_loop(&mut term, &mut app, &mut events, 50, |cmds| {
        seen.push(cmds.to_vec());
        Feed::Model(Box::new(busy_model(&ConnectorQuery::default())))
    })
    .unwrap();
    assert_eq!(end, LoopEnd::Quit);
    assert_eq!(seen.len(), 2, "{seen:?}");
    // The first frame asks for the connector window of an 80x24 screen.
    let UiCommand::ConnectorWindow(q) = &seen[0][0] else {
        panic!("{seen:?}");
    };
    assert_eq!(q.len, 18);
    assert_eq!(seen[1], [UiCommand::TogglePause, UiCommand::Quit]);
    let screen = lines(term.backend().buffer());
    assert!(screen[0].starts_with(" chargestorm │ demo │ seed 42 │"));
    assert!(screen[2].starts_with("┌ Connectors: 10000 "));
}

#[test]
fn a_resize_asks_for_a_new_window() {
    let mut term = terminal(80, 24);
    let mut app = App::new();
    let mut events = Script::new([Some(Event::Resize(100, 30)), Some(Event::Key(ch('q')))]);
    let mut seen = Vec::new();
    run_loop(&mut term, &mut app, &mut events, 50, |cmds| {
        seen.extend(cmds.iter().cloned());
        Feed::Unchanged
    })
    .unwrap();
    let lens: Vec<usize> = seen
        .iter()
        .filter_map(|c| match c {
            UiCommand::ConnectorWindow(q) => Some(q.len),
            _ => None,
        })
        .collect();
    assert_eq!(lens, [18, 24]);
}

#[test]
fn keys_are_handled_even_when_frames_run_late() {
    let mut term = terminal(80, 24);
    let mut app = App::new();
    // Keys wait in the queue before the first frame: they are handled at once, before
    // anything is drawn, even though the first frame is already due.
    let mut events = Script::new([Some(Event::Key(ch('3'))), Some(Event::Key(ch('q')))]);
    let mut seen = Vec::new();
    let end = run_loop(&mut term, &mut app, &mut events, 1, |cmds| {
        seen.push(cmds.to_vec());
        Feed::Unchanged
    })
    .unwrap();
    assert_eq!(end, LoopEnd::Quit);
    assert_eq!(seen.len(), 1);
    assert_eq!(app.view(), tui::dashboard::View::Errors);
}

#[test]
fn the_end_of_the_run_draws_the_last_frame_and_returns() {
    let mut term = terminal(60, 16);
    let mut app = App::new();
    let mut events = Script::new([]);
    let mut feeds = VecDeque::from([
        Feed::Unchanged,
        Feed::Model(Box::new(empty_model())),
        Feed::Finished,
    ]);
    let end = run_loop(&mut term, &mut app, &mut events, 100, |_| {
        feeds.pop_front().unwrap()
    })
    .unwrap();
    assert_eq!(end, LoopEnd::Finished);
    assert!(feeds.is_empty());
    let screen = lines(term.backend().buffer());
    assert!(screen[0].contains("sim 00:00:00 / 08:00:00"), "{screen:?}");
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test measures the wall-clock pacing of the loop"
)]
fn wall_now() -> std::time::Instant {
    std::time::Instant::now()
}

#[test]
fn frames_are_paced_not_spun() {
    let mut term = terminal(80, 24);
    let mut app = App::new();
    let mut events = Script::new([]);
    let mut ticks = 0;
    let start = wall_now();
    run_loop(&mut term, &mut app, &mut events, 50, |_| {
        ticks += 1;
        if ticks == 10 {
            Feed::Finished
        } else {
            Feed::Unchanged
        }
    })
    .unwrap();
    // Ten frames at 50 fps: the first at once, nine more 20 ms apart.
    assert!(
        start.elapsed() >= Duration::from_millis(180),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_simulation_thread_never_waits_for_the_screen() {
    const STEPS: u64 = 200_000;
    let (mut sim, ui) = bridge();
    let worker = std::thread::spawn(move || {
        let (mut built, mut quit_seen) = (0u64, false);
        for step in 0..STEPS {
            quit_seen |= sim.poll_commands().contains(&UiCommand::Quit);
            if sim.wants_model() {
                let mut model = busy_model(sim.query());
                model.sim_now_s = step as f64;
                sim.publish(model);
                built += 1;
            }
        }
        (built, quit_seen)
        // Dropping `sim` tells the screen the run is over.
    });
    let mut term = terminal(80, 24);
    let mut app = App::new();
    let mut events = Script::new([]);
    let mut frames = 0u64;
    let end = run_loop(&mut term, &mut app, &mut events, 100, |cmds| {
        frames += 1;
        ui.feed(cmds)
    })
    .unwrap();
    let (built, quit_seen) = worker.join().unwrap();
    assert_eq!(end, LoopEnd::Finished);
    assert!(!quit_seen);
    // One snapshot per frame at most (plus the one waiting when the run ended), however
    // many steps the simulation took.
    assert!(built <= frames + 1, "built {built} for {frames} frames");
    assert!(built >= 1);
}
