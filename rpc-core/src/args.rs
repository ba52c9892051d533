//! Positional call arguments: tuples of serde values.

use serde::Serialize;

use crate::value::{arg_vec, to_value, Value, ValueError};

/// Arguments of a call: `()`, a tuple of up to 12 serde values (`(11,)`, `("a", 2.5)`), or a
/// ready `Vec<Value>`.
#[diagnostic::on_unimplemented(
    message = "call arguments are a tuple, and `{Self}` is not one",
    label = "write the arguments as a tuple",
    note = "no arguments: `()`; one argument: `(11,)` (mind the comma: `(11)` is just `11`); two: `(a, b)`"
)]
pub trait Args {
    /// Converts the arguments to values, in order.
    fn into_args(self) -> Result<Vec<Value>, ValueError>;
}

impl Args for Vec<Value> {
    fn into_args(self) -> Result<Vec<Value>, ValueError> {
        Ok(self)
    }
}

impl Args for () {
    fn into_args(self) -> Result<Vec<Value>, ValueError> {
        Ok(Vec::new())
    }
}

macro_rules! tuple_args {
    ($($name:ident)+) => {
        impl<$($name: Serialize),+> Args for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Result<Vec<Value>, ValueError> {
                let ($($name,)+) = self;
                let mut values = arg_vec(0);
                $(values.push(to_value(&$name)?);)+
                Ok(values)
            }
        }
    };
}

tuple_args!(A);
tuple_args!(A B);
tuple_args!(A B C);
tuple_args!(A B C D);
tuple_args!(A B C D E);
tuple_args!(A B C D E F);
tuple_args!(A B C D E F G);
tuple_args!(A B C D E F G H);
tuple_args!(A B C D E F G H I);
tuple_args!(A B C D E F G H I J);
tuple_args!(A B C D E F G H I J K);
tuple_args!(A B C D E F G H I J K L);
