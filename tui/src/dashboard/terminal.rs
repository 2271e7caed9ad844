//! The terminal side: raw mode and the alternate screen behind a guard, and the frame loop.
//!
//! Threading: [`run_loop`] runs on the thread that owns the terminal (the main thread) and
//! the simulation runs on another. The loop never waits for the simulation: once per
//! frame it calls `tick` with the commands the keys produced, and `tick` must return at
//! once with the newest snapshot if there is one ([`super::bridge`] does exactly that over
//! a mutex-guarded slot and a channel). The simulation never waits for the screen either:
//! it publishes a snapshot when the previous one was taken and goes on.

use super::app::{App, UiCommand};
use super::model::DashboardModel;
use crossterm::event::{self, Event};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use std::io::{self, IsTerminal, Stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Frames per second unless the caller says otherwise.
pub const DEFAULT_FPS: u32 = 10;

/// Whether the terminal is in raw mode on the alternate screen (so the panic hook knows
/// whether there is anything to restore).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode and the alternate screen; both are undone on drop and on panic.
pub struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl std::fmt::Debug for TerminalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalGuard").finish_non_exhaustive()
    }
}

impl TerminalGuard {
    /// Switches stdout to raw mode on the alternate screen. Fails when stdout is not a
    /// terminal (the caller should fall back to headless progress lines).
    pub fn enter() -> io::Result<Self> {
        if !io::stdout().is_terminal() {
            return Err(io::Error::other(
                "the dashboard needs a terminal on stdout (use --headless)",
            ));
        }
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = execute!(io::stdout(), EnterAlternateScreen)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())))
            .and_then(|mut t| t.hide_cursor().map(|()| t))
            .and_then(|mut t| t.clear().map(|()| t));
        match entered {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut Terminal<CrosstermBackend<Stdout>> {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen and raw mode and shows the cursor, if the dashboard had
/// entered them; errors are ignored because there is nothing left to report them on.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    }
}

/// Restores the terminal before the previous panic hook prints, so the message is
/// readable and the shell is usable afterwards.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Where terminal events come from: crossterm in the binary, a script in tests.
pub trait EventSource {
    /// The next event, waiting at most `timeout`; `None` if none came.
    fn next_event(&mut self, timeout: Duration) -> io::Result<Option<Event>>;
}

/// Terminal events read by crossterm.
#[derive(Debug, Default, Clone, Copy)]
pub struct CrosstermEvents;

impl EventSource for CrosstermEvents {
    fn next_event(&mut self, timeout: Duration) -> io::Result<Option<Event>> {
        if event::poll(timeout)? {
            event::read().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// What `tick` hands the loop each frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// A new snapshot to draw.
    Model(Box<DashboardModel>),
    /// Nothing new: draw the last snapshot again.
    Unchanged,
    /// The simulation has ended: draw once more and return.
    Finished,
}

/// Why [`run_loop`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopEnd {
    /// The user pressed `q` or Ctrl-C (`tick` saw [`UiCommand::Quit`]).
    Quit,
    /// `tick` returned [`Feed::Finished`].
    Finished,
}

#[expect(
    clippy::disallowed_methods,
    reason = "the terminal shell paces frames by the wall clock"
)]
fn wall_now() -> Instant {
    Instant::now()
}

/// Draws at most `fps` frames per second until the user quits or `tick` says the run has
/// finished. Between frames it waits for input with a timeout, so keys are handled as
/// they come and a busy simulation never slows the screen (or the other way round).
/// `tick` is called once per frame with the commands since the last frame (the first
/// call carries the connector window for the terminal's size; the last one after a quit
/// carries [`UiCommand::Quit`]).
pub fn run_loop<B: Backend, E: EventSource>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut E,
    fps: u32,
    mut tick: impl FnMut(&[UiCommand]) -> Feed,
) -> io::Result<LoopEnd>
where
    B::Error: Send + Sync + 'static,
{
    let frame = Duration::from_secs(1) / fps.clamp(1, 120);
    let size = terminal.size().map_err(io::Error::other)?;
    // Sizing the app also asks for the first connector window.
    let mut pending = app.resize(size.width, size.height);
    let mut model = DashboardModel::default();
    let mut next_frame = wall_now();
    loop {
        read_input(app, events, next_frame, &mut pending)?;
        let feed = tick(&pending);
        pending.clear();
        if app.should_quit() {
            return Ok(LoopEnd::Quit);
        }
        let finished = match feed {
            Feed::Model(m) => {
                model = *m;
                pending.extend(app.update(&model));
                false
            }
            Feed::Unchanged => false,
            Feed::Finished => true,
        };
        terminal
            .draw(|f| app.render(&model, f))
            .map_err(io::Error::other)?;
        if finished {
            return Ok(LoopEnd::Finished);
        }
        // A slow frame is not made up for with a burst of fast ones.
        next_frame = (next_frame + frame).max(wall_now());
    }
}

/// Most events handled in one frame, so a flood of input cannot starve the screen.
const MAX_EVENTS_PER_FRAME: usize = 256;

/// The whole dashboard for the binary: takes over the terminal, runs [`run_loop`] with
/// crossterm input at `fps`, and restores the terminal when the user quits, the run ends,
/// or anything fails or panics.
pub fn run(fps: u32, tick: impl FnMut(&[UiCommand]) -> Feed) -> io::Result<LoopEnd> {
    let mut guard = TerminalGuard::enter()?;
    let mut app = App::new();
    run_loop(guard.terminal(), &mut app, &mut CrosstermEvents, fps, tick)
}

/// Handles input until `deadline` (or a quit), collecting commands into `pending`. Input
/// waiting when the deadline has already passed (a slow frame) is still handled, so keys
/// work however busy drawing is.
fn read_input<E: EventSource>(
    app: &mut App,
    events: &mut E,
    deadline: Instant,
    pending: &mut Vec<UiCommand>,
) -> io::Result<()> {
    for _ in 0..MAX_EVENTS_PER_FRAME {
        let timeout = deadline.saturating_duration_since(wall_now());
        match events.next_event(timeout)? {
            Some(Event::Key(key)) => pending.extend(app.handle_key(key)),
            Some(Event::Resize(width, height)) => pending.extend(app.resize(width, height)),
            Some(_) => {}
            None if wall_now() >= deadline => break,
            None => {}
        }
        if app.should_quit() {
            break;
        }
    }
    Ok(())
}
