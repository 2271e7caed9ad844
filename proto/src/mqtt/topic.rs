//! MQTT topics of the seed-004 protocol (seed section "MQTT主题").
//!
//! Every topic is `/<direction>/<class>/<id>`:
//!
//! | topic | publisher | QoS | id |
//! |---|---|---|---|
//! | `/U/R/<serial>` | charger | 2 | 设备序列号, the serial number burnt in at production |
//! | `/D/R/<serial>` | backend | 2 | same |
//! | `/U/C/<id>` | charger | 2 | 设备识别号, the device id returned by registration |
//! | `/D/C/<id>` | backend | 2 | same |
//! | `/U/M/<id>` | charger | 0 | same |
//! | `/D/M/<id>` | backend | 0 | same |
//!
//! The seed uses only QoS 0 and 2 ("本协议只用到QOS0和QOS2"). It does not restrict the id's
//! characters; chargestorm accepts 1 to [`MAX_ID_LEN`] printable ASCII characters other than
//! `/`, `+` and `#`, so an id can never add a topic level or act as an MQTT wildcard.

use std::fmt;

/// The longest device serial number or device id accepted, in bytes (chargestorm's limit).
pub const MAX_ID_LEN: usize = 64;

/// Who publishes on a topic: the first level, `U` or `D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// `U` (up): charger → backend. Seed: "充电站发布路径".
    Up,
    /// `D` (down): backend → charger. Seed: "充电站订阅路径".
    Down,
}

impl Direction {
    /// The topic letter, `'U'` or `'D'`.
    pub const fn letter(self) -> char {
        match self {
            Self::Up => 'U',
            Self::Down => 'D',
        }
    }

    /// The direction of the letter, if it is `U` or `D`.
    pub const fn from_letter(letter: char) -> Option<Self> {
        match letter {
            'U' => Some(Self::Up),
            'D' => Some(Self::Down),
            _ => None,
        }
    }

    /// The opposite direction: where the answer to a message goes.
    pub const fn reverse(self) -> Self {
        match self {
            Self::Up => Self::Down,
            Self::Down => Self::Up,
        }
    }
}

/// The message class: the second level, `R`, `C` or `M` (seed: "注册消息,命令消息和遥测消息").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TopicClass {
    /// `R`: registration (注册消息), QoS 2, id = device serial number.
    Registration,
    /// `C`: commands (命令消息), QoS 2, id = device id.
    Command,
    /// `M`: telemetry (遥测消息), QoS 0, id = device id.
    Telemetry,
}

impl TopicClass {
    /// The topic letter, `'R'`, `'C'` or `'M'`.
    pub const fn letter(self) -> char {
        match self {
            Self::Registration => 'R',
            Self::Command => 'C',
            Self::Telemetry => 'M',
        }
    }

    /// The class of the letter, if it is `R`, `C` or `M`.
    pub const fn from_letter(letter: char) -> Option<Self> {
        match letter {
            'R' => Some(Self::Registration),
            'C' => Some(Self::Command),
            'M' => Some(Self::Telemetry),
            _ => None,
        }
    }

    /// The QoS the seed prescribes: 2 for registration and commands, 0 for telemetry.
    pub const fn qos(self) -> QoS {
        match self {
            Self::Registration | Self::Command => QoS::ExactlyOnce,
            Self::Telemetry => QoS::AtMostOnce,
        }
    }
}

/// The MQTT QoS levels the seed uses (it never uses QoS 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QoS {
    /// QoS 0, telemetry topics (seed: "遥测消息主题路径, QOS为0").
    AtMostOnce = 0,
    /// QoS 2, registration and command topics (seed: "QOS为2").
    ExactlyOnce = 2,
}

impl QoS {
    /// The MQTT QoS number, 0 or 2.
    pub const fn value(self) -> u8 {
        self as u8
    }
}

/// Why a topic string is not a seed-004 topic. Each variant carries what was received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic does not have the shape `/X/Y/id` (wrong number of levels, no leading `/`).
    #[error("topic {topic:?} is not of the form /<U|D>/<R|C|M>/<id>")]
    Shape {
        /// The topic received (truncated to 128 bytes).
        topic: String,
    },
    /// The first level is not `U` or `D`.
    #[error("topic direction {found:?} is not U or D")]
    Direction {
        /// The level received.
        found: String,
    },
    /// The second level is not `R`, `C` or `M`.
    #[error("topic class {found:?} is not R, C or M")]
    Class {
        /// The level received.
        found: String,
    },
    /// The id level is empty.
    #[error("topic id is empty")]
    EmptyId,
    /// The id is longer than [`MAX_ID_LEN`].
    #[error("topic id is {len} bytes long, more than {max}")]
    IdTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The id has a character outside printable ASCII, or `/`, `+` or `#`.
    #[error("topic id has forbidden character {found:?} at byte {index}")]
    IdChar {
        /// The character.
        found: char,
        /// Its byte offset in the id.
        index: usize,
    },
}

/// A parsed or to-be-built topic, borrowing its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Topic<'a> {
    /// Who publishes on it.
    pub direction: Direction,
    /// Which message class it carries.
    pub class: TopicClass,
    /// The device serial number (class R) or device id (classes C and M).
    pub id: &'a str,
}

impl<'a> Topic<'a> {
    /// A topic with a validated id.
    pub fn new(direction: Direction, class: TopicClass, id: &'a str) -> Result<Self, TopicError> {
        validate_id(id)?;
        Ok(Self {
            direction,
            class,
            id,
        })
    }

    /// Parses `/<U|D>/<R|C|M>/<id>`; anything else is an error.
    pub fn parse(topic: &'a str) -> Result<Self, TopicError> {
        let shape = || TopicError::Shape {
            topic: truncate(topic, 128).to_owned(),
        };
        let rest = topic.strip_prefix('/').ok_or_else(shape)?;
        let mut levels = rest.splitn(3, '/');
        let (Some(dir), Some(class), Some(id)) = (levels.next(), levels.next(), levels.next())
        else {
            return Err(shape());
        };
        let direction = single_letter(dir)
            .and_then(Direction::from_letter)
            .ok_or_else(|| TopicError::Direction {
                found: truncate(dir, 16).to_owned(),
            })?;
        let class = single_letter(class)
            .and_then(TopicClass::from_letter)
            .ok_or_else(|| TopicError::Class {
                found: truncate(class, 16).to_owned(),
            })?;
        Self::new(direction, class, id)
    }

    /// The QoS to publish and subscribe with (seed: 2 for R and C, 0 for M).
    pub const fn qos(&self) -> QoS {
        self.class.qos()
    }

    /// The topic the other side answers on: same class and id, reversed direction.
    pub const fn reply(&self) -> Self {
        Self {
            direction: self.direction.reverse(),
            class: self.class,
            id: self.id,
        }
    }

    /// Clears `buf` and writes the topic into it, so one `String` serves every publish.
    pub fn write_into(&self, buf: &mut String) {
        buf.clear();
        buf.reserve(5 + self.id.len());
        buf.push('/');
        buf.push(self.direction.letter());
        buf.push('/');
        buf.push(self.class.letter());
        buf.push('/');
        buf.push_str(self.id);
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/{}/{}/{}",
            self.direction.letter(),
            self.class.letter(),
            self.id
        )
    }
}

/// The subscription filter for every device's topics of one direction and class, e.g.
/// `/U/C/+` for a backend that takes commands from all chargers.
pub const fn filter(direction: Direction, class: TopicClass) -> &'static str {
    match (direction, class) {
        (Direction::Up, TopicClass::Registration) => "/U/R/+",
        (Direction::Up, TopicClass::Command) => "/U/C/+",
        (Direction::Up, TopicClass::Telemetry) => "/U/M/+",
        (Direction::Down, TopicClass::Registration) => "/D/R/+",
        (Direction::Down, TopicClass::Command) => "/D/C/+",
        (Direction::Down, TopicClass::Telemetry) => "/D/M/+",
    }
}

/// Checks a device serial number or device id against the rules in the module doc.
pub fn validate_id(id: &str) -> Result<(), TopicError> {
    if id.is_empty() {
        return Err(TopicError::EmptyId);
    }
    if id.len() > MAX_ID_LEN {
        return Err(TopicError::IdTooLong {
            len: id.len(),
            max: MAX_ID_LEN,
        });
    }
    match id
        .char_indices()
        .find(|&(_, c)| !c.is_ascii_graphic() || matches!(c, '/' | '+' | '#'))
    {
        Some((index, found)) => Err(TopicError::IdChar { found, index }),
        None => Ok(()),
    }
}

/// The only character of a one-character level.
fn single_letter(level: &str) -> Option<char> {
    let mut chars = level.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary, so error
/// values stay small even for hostile input.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builds_every_seed_topic() {
        let mut buf = String::from("left over from the previous publish");
        let cases = [
            (Direction::Up, TopicClass::Registration, "/U/R/SN0001", 2),
            (Direction::Down, TopicClass::Registration, "/D/R/SN0001", 2),
            (Direction::Up, TopicClass::Command, "/U/C/SN0001", 2),
            (Direction::Down, TopicClass::Command, "/D/C/SN0001", 2),
            (Direction::Up, TopicClass::Telemetry, "/U/M/SN0001", 0),
            (Direction::Down, TopicClass::Telemetry, "/D/M/SN0001", 0),
        ];
        for (direction, class, text, qos) in cases {
            let topic = Topic::new(direction, class, "SN0001").unwrap();
            topic.write_into(&mut buf);
            assert_eq!(buf, text);
            assert_eq!(topic.to_string(), text);
            assert_eq!(topic.qos().value(), qos);
            assert_eq!(Topic::parse(text).unwrap(), topic);
        }
    }

    #[test]
    fn reply_reverses_direction_only() {
        let topic = Topic::parse("/U/C/dev-42").unwrap();
        assert_eq!(topic.reply().to_string(), "/D/C/dev-42");
        assert_eq!(topic.reply().reply(), topic);
    }

    #[test]
    fn filters_match_the_topic_shape() {
        assert_eq!(filter(Direction::Up, TopicClass::Command), "/U/C/+");
        assert_eq!(filter(Direction::Down, TopicClass::Telemetry), "/D/M/+");
        assert_eq!(filter(Direction::Up, TopicClass::Registration), "/U/R/+");
    }

    #[test]
    fn rejects_malformed_topics() {
        let shape = |t: &str| TopicError::Shape { topic: t.into() };
        assert_eq!(Topic::parse(""), Err(shape("")));
        assert_eq!(Topic::parse("U/C/x"), Err(shape("U/C/x")));
        assert_eq!(Topic::parse("/U/C"), Err(shape("/U/C")));
        assert_eq!(Topic::parse("/U"), Err(shape("/U")));
        let dir = |f: &str| TopicError::Direction { found: f.into() };
        assert_eq!(Topic::parse("/X/C/id"), Err(dir("X")));
        assert_eq!(Topic::parse("/u/C/id"), Err(dir("u")));
        assert_eq!(Topic::parse("/UU/C/id"), Err(dir("UU")));
        assert_eq!(Topic::parse("//C/id"), Err(dir("")));
        let class = |f: &str| TopicError::Class { found: f.into() };
        assert_eq!(Topic::parse("/U/Q/id"), Err(class("Q")));
        assert_eq!(Topic::parse("/D/CM/id"), Err(class("CM")));
        assert_eq!(Topic::parse("/U/C/"), Err(TopicError::EmptyId));
        let bad = |found, index| TopicError::IdChar { found, index };
        assert_eq!(Topic::parse("/U/C/a/b"), Err(bad('/', 1)));
        assert_eq!(Topic::parse("/U/C/+"), Err(bad('+', 0)));
        assert_eq!(Topic::parse("/U/C/dev#"), Err(bad('#', 3)));
        assert_eq!(Topic::parse("/U/C/de v"), Err(bad(' ', 2)));
        assert_eq!(Topic::parse("/U/C/桩1"), Err(bad('桩', 0)));
        let long = format!("/U/C/{}", "a".repeat(MAX_ID_LEN + 1));
        assert_eq!(
            Topic::parse(&long),
            Err(TopicError::IdTooLong {
                len: MAX_ID_LEN + 1,
                max: MAX_ID_LEN
            })
        );
        assert!(Topic::parse(&format!("/U/C/{}", "a".repeat(MAX_ID_LEN))).is_ok());
    }

    #[test]
    fn error_values_stay_short_for_hostile_input() {
        let hostile = format!("no-slash{}", "桩".repeat(1000));
        match Topic::parse(&hostile) {
            Err(TopicError::Shape { topic }) => assert!(topic.len() <= 128),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn id_strategy() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[!\"$-*,-.0-~]{1,64}").unwrap()
    }

    proptest! {
        #[test]
        fn build_parse_round_trip(id in id_strategy(), up: bool, class in 0u8..3) {
            let direction = if up { Direction::Up } else { Direction::Down };
            let class = [TopicClass::Registration, TopicClass::Command, TopicClass::Telemetry]
                [usize::from(class)];
            let topic = Topic::new(direction, class, &id).unwrap();
            let mut buf = String::new();
            topic.write_into(&mut buf);
            prop_assert_eq!(Topic::parse(&buf).unwrap(), topic);
        }

        #[test]
        fn parse_never_panics_and_round_trips(s in "\\PC{0,80}") {
            if let Ok(topic) = Topic::parse(&s) {
                prop_assert_eq!(topic.to_string(), s);
            }
        }
    }
}
