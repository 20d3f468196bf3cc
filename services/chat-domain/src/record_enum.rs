//! The enum over a family of record structs, with its names and `From`s.

/// Declares `enum $name { A(A), B(B), … }` over record structs, with
/// `name()` (the schema name) and a `From` for each struct.
#[macro_export]
#[doc(hidden)]
macro_rules! record_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($variant($variant),)*
        }

        impl $name {
            /// The schema name (without namespace) of the record.
            pub fn name(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => stringify!($variant),)*
                }
            }

            /// Every schema name of the family.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($variant),)*];
        }

        $(impl From<$variant> for $name {
            fn from(r: $variant) -> Self {
                $name::$variant(r)
            }
        })*
    };
}
