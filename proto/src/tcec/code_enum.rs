//! The `code_enum!` macro: spec-coded integer enums with an `Other` escape hatch.
//!
//! Every enumeration of the standards (station types, connector status, alarm codes…) is sent as
//! an integer. Real peers send codes outside the tables (tcec-http.md §5 quirk 11), so decoding
//! keeps them as `Other(code)` instead of failing; [`crate::tcec::validate`] rejects them.

/// Defines a spec-coded enum: each variant is `Name = code => "中文", "English gloss";`.
///
/// Generates `code`, `from_code`, `is_known`, `name_zh`, `name_en`, `KNOWN`, integer `Serialize`,
/// lenient `Deserialize` (number or numeric string), `Lenient`, `CodeEnum` and `Display`.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $cite:literal {
            $( $variant:ident = $code:literal => $zh:literal, $en:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $(
                #[doc = concat!("`", stringify!($code), "` ", $zh, " — ", $en, " (", $cite, ").")]
                $variant,
            )*
            /// A code the standard does not define, kept so that sloppy peers still decode;
            /// validation rejects it.
            Other(i32),
        }

        impl $name {
            /// Every code the standard defines, in table order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// The integer sent on the wire.
            pub const fn code(self) -> i32 {
                match self {
                    $($name::$variant => $code,)*
                    $name::Other(c) => c,
                }
            }

            /// The variant for a wire code; codes outside the table become `Other`.
            pub const fn from_code(code: i32) -> Self {
                match code {
                    $($code => $name::$variant,)*
                    c => $name::Other(c),
                }
            }

            /// Whether the standard defines this code.
            pub const fn is_known(self) -> bool {
                !matches!(self, $name::Other(_))
            }

            /// The standard's Chinese name of the code, `None` for `Other`.
            pub const fn name_zh(self) -> Option<&'static str> {
                match self {
                    $($name::$variant => Some($zh),)*
                    $name::Other(_) => None,
                }
            }

            /// An English gloss of the code, `None` for `Other`.
            pub const fn name_en(self) -> Option<&'static str> {
                match self {
                    $($name::$variant => Some($en),)*
                    $name::Other(_) => None,
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i32(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::tcec::lenient::de(d)
            }
        }

        impl $crate::tcec::lenient::Lenient for $name {
            fn from_json(v: &serde_json::Value) -> Result<Self, String> {
                let i = $crate::tcec::lenient::int_of(v)?;
                i32::try_from(i)
                    .map($name::from_code)
                    .map_err(|_| format!("code {i} is out of range"))
            }
        }

        impl $crate::tcec::validate::CodeEnum for $name {
            fn code(&self) -> i32 {
                $name::code(*self)
            }
            fn is_known(&self) -> bool {
                $name::is_known(*self)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name_en() {
                    Some(en) => write!(f, "{} ({})", en, self.code()),
                    None => write!(f, "undefined code {}", self.code()),
                }
            }
        }
    };
}

pub(crate) use code_enum;
