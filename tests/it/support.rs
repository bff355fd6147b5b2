//! What the tests share: starting the binary and talking HTTP to it (`common`), a real
//! application to deliver to (`app`), an OTLP/HTTP trace receiver (`otlp`), RabbitMQ
//! queues and private nodes (`rabbit`, `rabbit_node`), and the providers' SDKs
//! installed for the interop tests (`sdk`).

pub mod app;
pub mod common;
pub mod otlp;
pub mod rabbit;
pub mod rabbit_node;
pub mod sdk;

/// Each test runs in both modes, `<module>::<test>::store` and `::rabbitmq`: `test(mode)`
/// with the calling module's `Mode` (`crate::deliver::Mode`) in scope.
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn store() {
                super::$name(super::Mode::Store)
            }
            #[test]
            fn rabbitmq() {
                super::$name(super::Mode::Rabbit)
            }
        }
    )*};
}
