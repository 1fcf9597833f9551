//! A Jupyter kernel for deployclaw: the five ZeroMQ channels on a tokio runtime of their own,
//! and one engine session on the calling thread that runs the cells, so one kernel is one
//! signed session log. Control (interrupt, shutdown) is answered on the network side at once,
//! even while a cell runs.

pub mod wire;

use std::sync::mpsc;

use bytes::Bytes;
use serde_json::{Value, json};
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::engine::{Failure, Session, display};
use crate::shell::helper::ShellHelper;
use wire::{Connection, Message, SeenMessages, answer};

/// What the network side hands the session.
enum Inbound {
    Shell(Box<Message>),
    /// A shutdown request came on the control channel (already answered there).
    Shutdown,
}

/// What the session hands the network side to send.
enum Outbound {
    Shell(Message),
    Iopub(Message),
}

fn frames(message: ZmqMessage) -> Vec<Bytes> {
    message.into_vec()
}

fn zmq(frames: Vec<Bytes>) -> ZmqMessage {
    ZmqMessage::try_from(frames).expect("a message has frames")
}

/// Bind every channel and run the network side until the process ends.
async fn network(
    connection: Connection,
    session_id: String,
    to_session: mpsc::Sender<Inbound>,
    mut outbound: tokio::sync::mpsc::UnboundedReceiver<Outbound>,
    interrupt: std::sync::Arc<dyn Fn() + Send + Sync>,
    bound: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let key = connection.key.clone().into_bytes();
    let mut shell = zeromq::RouterSocket::new();
    let mut control = zeromq::RouterSocket::new();
    let mut iopub = zeromq::PubSocket::new();
    let mut stdin = zeromq::RouterSocket::new();
    let mut heartbeat = zeromq::RepSocket::new();
    let binds = async {
        shell.bind(&connection.endpoint(connection.shell_port)).await?;
        control.bind(&connection.endpoint(connection.control_port)).await?;
        iopub.bind(&connection.endpoint(connection.iopub_port)).await?;
        stdin.bind(&connection.endpoint(connection.stdin_port)).await?;
        heartbeat.bind(&connection.endpoint(connection.hb_port)).await?;
        Ok::<(), zeromq::ZmqError>(())
    };
    if let Err(e) = binds.await {
        let _ = bound.send(Err(format!("cannot bind the kernel's ports on {}: {e}", connection.ip)));
        return;
    }
    let _ = bound.send(Ok(()));

    tokio::spawn(async move {
        while let Ok(ping) = heartbeat.recv().await {
            if heartbeat.send(ping).await.is_err() {
                break;
            }
        }
    });
    // No cell reads input: the stdin channel is bound (clients connect to it) and left idle.
    tokio::spawn(async move {
        let _stdin = stdin;
        std::future::pending::<()>().await
    });

    let (mut shell_tx, mut shell_rx) = shell.split();
    let k = key.clone();
    let to = to_session.clone();
    // One record of message ids for both channels: a request replayed on the other is refused too.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(SeenMessages::default()));
    let shell_seen = seen.clone();
    let fresh = move |msg: Result<Message, String>, seen: &std::sync::Mutex<SeenMessages>| {
        let msg = msg?;
        seen.lock().map_err(|_| "the record of message ids is poisoned".to_string())?.first_time(&msg)?;
        Ok::<Message, String>(msg)
    };
    tokio::spawn(async move {
        while let Ok(m) = shell_rx.recv().await {
            match fresh(Message::decode(frames(m), &k), &shell_seen) {
                Ok(msg) => {
                    if to.send(Inbound::Shell(Box::new(msg))).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!("shell: dropped a message: {e}"),
            }
        }
    });

    let (control_out_tx, mut control_out_rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let (mut control_tx, mut control_rx) = control.split();
    let k = key.clone();
    let sid = session_id.clone();
    tokio::spawn(async move {
        while let Ok(m) = control_rx.recv().await {
            let msg = match fresh(Message::decode(frames(m), &k), &seen) {
                Ok(msg) => msg,
                Err(e) => {
                    tracing::warn!("control: dropped a message: {e}");
                    continue;
                }
            };
            match msg.msg_type() {
                "interrupt_request" => {
                    interrupt();
                    let _ = control_out_tx.send(answer(Some(&msg), &sid, "interrupt_reply", json!({"status": "ok"})));
                }
                "kernel_info_request" => {
                    let _ = control_out_tx.send(answer(Some(&msg), &sid, "kernel_info_reply", kernel_info()));
                }
                "shutdown_request" => {
                    interrupt();
                    let restart = msg.content["restart"].as_bool().unwrap_or(false);
                    let _ = control_out_tx.send(answer(
                        Some(&msg),
                        &sid,
                        "shutdown_reply",
                        json!({"status": "ok", "restart": restart}),
                    ));
                    let _ = to_session.send(Inbound::Shutdown);
                }
                other => tracing::warn!("control: {other} is not answered"),
            }
        }
    });
    let k = key.clone();
    tokio::spawn(async move {
        while let Some(msg) = control_out_rx.recv().await {
            if control_tx.send(zmq(msg.encode(&k))).await.is_err() {
                break;
            }
        }
    });

    while let Some(out) = outbound.recv().await {
        let sent = match out {
            Outbound::Shell(msg) => shell_tx.send(zmq(msg.encode(&key))).await,
            Outbound::Iopub(msg) => iopub.send(zmq(msg.encode(&key))).await,
        };
        if let Err(e) = sent {
            tracing::warn!("sending a message: {e}");
        }
    }
}

pub fn kernel_info() -> Value {
    json!({
        "status": "ok",
        "protocol_version": wire::PROTOCOL_VERSION,
        "implementation": "deployclaw",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "rhai",
            "version": "1",
            "mimetype": "text/x-rhai",
            "file_extension": ".rhai",
            "codemirror_mode": "rust",
            "pygments_lexer": "rust",
        },
        "banner": "deployclaw: an automation shell for auditing multi-tenant services. help() lists every function.",
        "help_links": [],
    })
}

/// The session side: runs cells and answers the shell channel, one request at a time.
struct Kernel {
    session: Session,
    helper: ShellHelper,
    send: tokio::sync::mpsc::UnboundedSender<Outbound>,
    id: String,
    count: i64,
}

impl Kernel {
    /// Every message the kernel sends goes through here or [`Self::reply`], its secrets redacted.
    fn iopub(&self, parent: &Message, msg_type: &str, mut content: Value) {
        crate::evidence::redact_json(&mut content);
        let _ = self.send.send(Outbound::Iopub(answer(Some(parent), &self.id, msg_type, content)));
    }

    fn reply(&self, parent: &Message, msg_type: &str, mut content: Value) {
        crate::evidence::redact_json(&mut content);
        let _ = self.send.send(Outbound::Shell(answer(Some(parent), &self.id, msg_type, content)));
    }

    fn status(&self, parent: &Message, state: &str) {
        self.iopub(parent, "status", json!({"execution_state": state}));
    }

    fn execute(&mut self, msg: &Message) {
        let code = msg.content["code"].as_str().unwrap_or("").to_string();
        let silent = msg.content["silent"].as_bool().unwrap_or(false);
        if !silent {
            self.count += 1;
        }
        let count = self.count;
        self.iopub(msg, "execute_input", json!({"code": code, "execution_count": count}));
        let findings_before = self.session.findings().len();
        if !silent {
            // Printed lines reach the notebook as they are printed, not when the cell ends.
            let (send, parent, id) = (self.send.clone(), msg.clone(), self.id.clone());
            self.session.set_print_sink(Some(Box::new(move |text: &str| {
                let stream = answer(Some(&parent), &id, "stream", json!({"name": "stdout", "text": text}));
                let _ = send.send(Outbound::Iopub(stream));
            })));
        }
        let result = self.session.eval(&code, &format!("In [{count}]"));
        self.session.set_print_sink(None);
        self.session.take_prints();
        // The cell is done and the kernel waits: nothing of it stays unsealed meanwhile.
        if let Err(e) = self.session.seal_pending() {
            tracing::error!("sealing the session log: {e}");
        }
        if let Some(text) = crate::notebook::findings_since(&self.session, findings_before).filter(|_| !silent) {
            self.iopub(msg, "stream", json!({"name": "stderr", "text": text}));
        }
        *self.helper.vars.lock().expect("vars lock") = self.session.vars();
        *self.helper.script_functions.lock().expect("fns lock") = self.session.script_functions();
        match result {
            Ok(value) => {
                if !value.is_unit() && !silent {
                    let shown = display(&value, 100);
                    let data: serde_json::Map<String, Value> =
                        shown.bundle().into_iter().map(|(mime, text)| (mime.to_string(), text.into())).collect();
                    self.iopub(msg, "execute_result", json!({"execution_count": count, "data": data, "metadata": {}}));
                }
                self.reply(
                    msg,
                    "execute_reply",
                    json!({"status": "ok", "execution_count": count, "user_expressions": {}, "payload": []}),
                );
            }
            Err(failure) => {
                let (ename, evalue) = match &failure {
                    Failure::Cancelled => ("Interrupted".to_string(), "interrupted".to_string()),
                    Failure::Error { message, .. } => ("RhaiError".to_string(), message.clone()),
                    Failure::Input { message, .. } => ("InputError".to_string(), message.clone()),
                };
                let traceback = vec![failure.to_string()];
                let error = json!({"ename": ename, "evalue": evalue, "traceback": traceback});
                self.iopub(msg, "error", error.clone());
                let mut content = error;
                content["status"] = "error".into();
                content["execution_count"] = count.into();
                self.reply(msg, "execute_reply", content);
            }
        }
    }

    /// The cursor Jupyter sends counts characters; the completer wants a byte offset.
    fn byte_offset(code: &str, cursor: usize) -> usize {
        code.char_indices().nth(cursor).map_or(code.len(), |(i, _)| i)
    }

    fn complete(&self, msg: &Message) {
        let code = msg.content["code"].as_str().unwrap_or("");
        let cursor = msg.content["cursor_pos"].as_u64().map_or(code.chars().count(), |c| c as usize);
        let at = Kernel::byte_offset(code, cursor);
        let (start, matches) = self.helper.candidates(code, at);
        let start_chars = code[..start].chars().count();
        self.reply(
            msg,
            "complete_reply",
            json!({"status": "ok", "matches": matches, "cursor_start": start_chars, "cursor_end": cursor, "metadata": {}}),
        );
    }

    /// The function name around the cursor: `ns::name`, `name` or the method of `x.name`.
    fn word_at(code: &str, at: usize) -> String {
        let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
        let start = code[..at].char_indices().rev().take_while(|(_, c)| is_word(*c)).last().map_or(at, |(i, _)| i);
        let end = code[at..].char_indices().find(|(_, c)| !is_word(*c)).map_or(code.len(), |(i, _)| at + i);
        code[start..end].trim_matches(':').to_string()
    }

    fn inspect(&self, msg: &Message) {
        let code = msg.content["code"].as_str().unwrap_or("");
        let cursor = msg.content["cursor_pos"].as_u64().map_or(code.chars().count(), |c| c as usize);
        let word = Kernel::word_at(code, Kernel::byte_offset(code, cursor));
        let content = match self.session.docs().get(&word) {
            Some(doc) => json!({"status": "ok", "found": true, "data": {"text/plain": doc.help()}, "metadata": {}}),
            None => json!({"status": "ok", "found": false, "data": {}, "metadata": {}}),
        };
        self.reply(msg, "inspect_reply", content);
    }

    fn is_complete(&self, msg: &Message) {
        let code = msg.content["code"].as_str().unwrap_or("");
        let content = if crate::engine::lexer::lex(code).1.is_complete() {
            json!({"status": "complete"})
        } else {
            json!({"status": "incomplete", "indent": "    "})
        };
        self.reply(msg, "is_complete_reply", content);
    }

    fn handle(&mut self, msg: &Message) {
        self.status(msg, "busy");
        match msg.msg_type() {
            "execute_request" => self.execute(msg),
            "kernel_info_request" => self.reply(msg, "kernel_info_reply", kernel_info()),
            "complete_request" => self.complete(msg),
            "inspect_request" => self.inspect(msg),
            "is_complete_request" => self.is_complete(msg),
            "history_request" => self.reply(msg, "history_reply", json!({"status": "ok", "history": []})),
            "comm_info_request" => self.reply(msg, "comm_info_reply", json!({"status": "ok", "comms": {}})),
            other => tracing::warn!("shell: {other} is not answered"),
        }
        self.status(msg, "idle");
    }
}

/// Serve `connection` with `session` until a shutdown request; the session is closed (its log
/// sealed) before this returns.
pub fn serve(connection: Connection, session: Session, helper: ShellHelper) -> Result<(), String> {
    session.capture_prints();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("deployclaw-kernel-net")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the kernel's runtime: {e}"))?;
    let (to_session, inbound) = mpsc::channel();
    let (send, outbound) = tokio::sync::mpsc::unbounded_channel();
    let (bound_tx, bound_rx) = mpsc::channel();
    let interrupt: std::sync::Arc<dyn Fn() + Send + Sync> = std::sync::Arc::new(session.interrupter());
    let id = format!("deployclaw-{}", std::process::id());
    runtime.spawn(network(connection, id.clone(), to_session, outbound, interrupt, bound_tx));
    bound_rx.recv().map_err(|_| "the kernel's network side stopped".to_string())??;
    let mut kernel = Kernel { session, helper, send, id, count: 0 };
    let starting = answer(None, &kernel.id, "status", json!({"execution_state": "starting"}));
    let _ = kernel.send.send(Outbound::Iopub(starting));
    for inbound in inbound {
        match inbound {
            Inbound::Shell(msg) if msg.msg_type() == "shutdown_request" => {
                let restart = msg.content["restart"].as_bool().unwrap_or(false);
                kernel.reply(&msg, "shutdown_reply", json!({"status": "ok", "restart": restart}));
                break;
            }
            Inbound::Shell(msg) => kernel.handle(&msg),
            Inbound::Shutdown => break,
        }
    }
    let closed = kernel.session.close().map_err(|e| format!("sealing the session log: {e}"));
    // Let the last replies leave before the runtime stops.
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(kernel);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    closed.map(|_| ())
}
