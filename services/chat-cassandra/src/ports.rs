//! The store ports on [`CassandraStore`]: `chat_ports::store_ports_from_methods!`
//! forwards each port method to the inherent method of `reads`, `writes`,
//! `retention`, `receipts`, `attachments` or `devices` that has its arguments.

use crate::CassandraStore;

chat_ports::store_ports_from_methods!(CassandraStore);
