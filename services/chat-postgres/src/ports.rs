//! The store ports on [`PostgresStore`]: `chat_ports::store_ports_from_methods!`
//! forwards each port method to the inherent method of `reads`, `writes`,
//! `receipts`, `attachments` or `devices` that has its arguments.

use crate::PostgresStore;

chat_ports::store_ports_from_methods!(PostgresStore);
