//! `chargestorm tcec sign|verify|encrypt|decrypt`: the T/CEC 102.4 / DB4403 envelope crypto
//! for integrators (tcec-http.md §2, §4).
//!
//! Keys come from flags, from `TCEC_SIG_SECRET` / `TCEC_DATA_SECRET` / `TCEC_DATA_SECRET_IV`,
//! or from files (`--sig-secret-file` …). Secrets are never printed: `--help` hides the
//! environment values and errors name the key, never its bytes.
//!
//! Wiring (done by the lead in `main.rs`): add `Tcec(tcec_cmd::TcecArgs)` to the top-level
//! subcommands and call [`run`] with its `command`.

use std::io::{Read as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use sim_core::tcec::wire::crypto::{self, Key16};
use sim_core::tcec::wire::envelope::{RequestEnvelope, ResponseEnvelope};
use sim_core::tcec::wire::{ResponseOpenOptions, Ret, Secret};

/// `chargestorm tcec …`.
#[derive(Debug, Args)]
pub struct TcecArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TcecCommand,
}

/// The `tcec` subcommands.
#[derive(Debug, Subcommand)]
pub enum TcecCommand {
    /// Compute a Sig: request `OperatorID+Data+TimeStamp+Seq`, or with `--ret` response
    /// `Ret+Msg+Data`.
    Sign(SignArgs),
    /// Verify the Sig of a request or response envelope (JSON); exit code 1 on mismatch.
    Verify(VerifyArgs),
    /// Encrypt plaintext into Base64 `Data` (AES-128-CBC, PKCS#7).
    Encrypt(CryptArgs),
    /// Decrypt Base64 `Data` into plaintext.
    Decrypt(CryptArgs),
}

/// The SigSecret.
#[derive(Debug, Args)]
pub struct SigKey {
    /// SigSecret (HMAC-MD5 key, used as its UTF-8 bytes).
    #[arg(
        long,
        env = "TCEC_SIG_SECRET",
        hide_env_values = true,
        conflicts_with = "sig_secret_file"
    )]
    pub sig_secret: Option<String>,
    /// File holding the SigSecret (trailing newline ignored).
    #[arg(long)]
    pub sig_secret_file: Option<PathBuf>,
}

/// DataSecret and DataSecretIV.
#[derive(Debug, Args)]
pub struct DataKeys {
    /// DataSecret (16 characters, the AES-128 key).
    #[arg(
        long,
        env = "TCEC_DATA_SECRET",
        hide_env_values = true,
        conflicts_with = "data_secret_file"
    )]
    pub data_secret: Option<String>,
    /// File holding the DataSecret.
    #[arg(long)]
    pub data_secret_file: Option<PathBuf>,
    /// DataSecretIV (16 characters, the CBC IV).
    #[arg(
        long,
        env = "TCEC_DATA_SECRET_IV",
        hide_env_values = true,
        conflicts_with = "data_secret_iv_file"
    )]
    pub data_secret_iv: Option<String>,
    /// File holding the DataSecretIV.
    #[arg(long)]
    pub data_secret_iv_file: Option<PathBuf>,
}

/// `tcec sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The Data string exactly as sent (Base64 ciphertext).
    #[arg(long)]
    pub data: String,
    /// OperatorID (request).
    #[arg(long, required_unless_present = "ret")]
    pub operator_id: Option<String>,
    /// TimeStamp `yyyyMMddHHmmss` (request).
    #[arg(long, required_unless_present = "ret")]
    pub timestamp: Option<String>,
    /// Seq, 4 digits (request).
    #[arg(long, required_unless_present = "ret")]
    pub seq: Option<String>,
    /// Ret: sign a response instead.
    #[arg(long, allow_hyphen_values = true)]
    pub ret: Option<i32>,
    /// Msg of the response.
    #[arg(long, default_value = "")]
    pub msg: String,
    /// The key.
    #[command(flatten)]
    pub key: SigKey,
}

/// `tcec verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// File with the envelope JSON (`-` for standard input).
    #[arg(long)]
    pub body: PathBuf,
    /// The key.
    #[command(flatten)]
    pub key: SigKey,
}

/// `tcec encrypt` / `tcec decrypt`.
#[derive(Debug, Args)]
pub struct CryptArgs {
    /// The input text (plaintext to encrypt, Base64 Data to decrypt).
    #[arg(long, conflicts_with = "input")]
    pub text: Option<String>,
    /// File with the input (`-` for standard input).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// The keys.
    #[command(flatten)]
    pub keys: DataKeys,
}

/// Runs a `tcec` subcommand, writing results to standard output.
pub fn run(command: TcecCommand) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_to(command, &mut out)
}

/// Runs a `tcec` subcommand, writing results to `out`.
pub fn run_to(command: TcecCommand, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match command {
        TcecCommand::Sign(a) => sign(a, out),
        TcecCommand::Verify(a) => verify(a, out),
        TcecCommand::Encrypt(a) => {
            let (key, iv) = data_keys(&a.keys)?;
            let plaintext = input(a.text, a.input)?;
            writeln!(out, "{}", crypto::encrypt_data(&key, &iv, &plaintext))?;
            Ok(ExitCode::SUCCESS)
        }
        TcecCommand::Decrypt(a) => {
            let (key, iv) = data_keys(&a.keys)?;
            let data = String::from_utf8(input(a.text, a.input)?).context("Data is not UTF-8")?;
            let plaintext =
                crypto::decrypt_data(&key, &iv, data.trim()).context("cannot decrypt Data")?;
            out.write_all(&plaintext)?;
            writeln!(out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_secret(
    flag: Option<&String>,
    file: Option<&PathBuf>,
    name: &str,
) -> anyhow::Result<String> {
    match (flag, file) {
        (Some(s), _) => Ok(s.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the {name} file {}", path.display()))?;
            Ok(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, None) => bail!(
            "{name} missing: pass --{0}, --{0}-file or set TCEC_{1}",
            name.to_lowercase().replace(' ', "-"),
            name.to_uppercase().replace(' ', "_")
        ),
    }
}

fn sig_key(k: &SigKey) -> anyhow::Result<Secret> {
    read_secret(
        k.sig_secret.as_ref(),
        k.sig_secret_file.as_ref(),
        "sig secret",
    )
    .map(Secret::new)
}

fn data_keys(k: &DataKeys) -> anyhow::Result<(Key16, Key16)> {
    let key = read_secret(
        k.data_secret.as_ref(),
        k.data_secret_file.as_ref(),
        "data secret",
    )?;
    let iv = read_secret(
        k.data_secret_iv.as_ref(),
        k.data_secret_iv_file.as_ref(),
        "data secret iv",
    )?;
    Ok((
        Key16::from_str_exact("DataSecret", &key)?,
        Key16::from_str_exact("DataSecretIV", &iv)?,
    ))
}

fn input(text: Option<String>, file: Option<PathBuf>) -> anyhow::Result<Vec<u8>> {
    match (text, file) {
        (Some(t), _) => Ok(t.into_bytes()),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            Ok(buf)
        }
        (None, Some(p)) => std::fs::read(&p).with_context(|| format!("reading {}", p.display())),
        (None, None) => bail!("no input: pass --text or --input"),
    }
}

fn sign(a: SignArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let secret = sig_key(&a.key)?;
    let sig = match a.ret {
        Some(ret) => {
            let ret = Ret::from_code(ret).code().to_string();
            crypto::sign(
                &secret,
                &[ret.as_bytes(), a.msg.as_bytes(), a.data.as_bytes()],
            )
        }
        None => {
            let (Some(op), Some(ts), Some(seq)) = (&a.operator_id, &a.timestamp, &a.seq) else {
                bail!("a request Sig needs --operator-id, --timestamp and --seq");
            };
            crypto::sign(&secret, &crypto::request_parts(op, &a.data, ts, seq))
        }
    };
    writeln!(out, "{sig}")?;
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let secret = sig_key(&a.key)?;
    let body = input(None, Some(a.body))?;
    // Only the SigSecret matters for verification; the data keys are placeholders.
    let keys = sim_core::tcec::wire::TcecKeys {
        operator_id: String::new(),
        operator_secret: Secret::default(),
        data_secret: Key16::from_bytes([0; 16]),
        data_secret_iv: Key16::from_bytes([0; 16]),
        sig_secret: secret,
    };
    // A request has OperatorID/TimeStamp/Seq and no Ret; a response has Ret.
    let (is_response, result) = match RequestEnvelope::parse(&body) {
        Ok(request) => (false, request.verify(&keys)),
        Err(request_error) => {
            let response = ResponseEnvelope::parse(&body)
                .map_err(|_| request_error)
                .context("neither a request nor a response envelope")?;
            (true, response.verify(&keys, ResponseOpenOptions::default()))
        }
    };
    let kind = if is_response { "response" } else { "request" };
    match result {
        Ok(()) => {
            writeln!(out, "{kind} Sig OK")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            writeln!(out, "{kind} Sig INVALID: {e}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: TcecCommand,
    }

    /// TV-1 / TV-2 of tcec-http.md §2.
    const KEY: &str = "1234567890abcdef";
    const TV1_DATA: &str = "il7B0BSEjFdzpyKzfOFpvg/Se1CP802RItKYFPfSLRxJ3jf0bVl9hvYOEktPAYW2nd7S8MBcyHYyacHKbISq5iTmDzG+ivnR+SZJv3USNTYVMz9rCQVSxd0cLlqsJauko79NnwQJbzDTyLooYoIwz75qBOH2/xOMirpeEqRJrF/EQjWekJmGk9RtboXePu2rka+Xm51syBPhiXJAq0GfbfaFu9tNqs/e2Vjja/ltE1M0lqvxfXQ6da6HrThsm5id4ClZFIi0acRfrsPLRixS/IQYtksxghvJwbqOsbIsITail9Ayy4tKcogeEZiOO+4Ed264NSKmk7l3wKwJLAFjCFogBx8GE3OBz4pqcAn/ydA=";

    fn run_args(args: &[&str]) -> (ExitCode, String) {
        let cli = Cli::try_parse_from(std::iter::once("tcec").chain(args.iter().copied())).unwrap();
        let mut out = Vec::new();
        let code = run_to(cli.command, &mut out).unwrap();
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn sign_reproduces_tv1_and_the_response_vectors() {
        let (_, sig) = run_args(&[
            "sign",
            "--sig-secret",
            KEY,
            "--operator-id",
            "123456789",
            "--data",
            TV1_DATA,
            "--timestamp",
            "20160729142400",
            "--seq",
            "0001",
        ]);
        assert_eq!(sig.trim(), "745166E8C43C84D37FFEC0F529C4136F");
        let (_, sig) = run_args(&[
            "sign",
            "--sig-secret",
            KEY,
            "--ret",
            "0",
            "--msg",
            "1",
            "--data",
            "abc",
        ]);
        assert_eq!(sig.trim(), "6A7BDACE25C1BA6A4E81EBF5B85B224A");
        assert!(!sig.contains(KEY));
    }

    #[test]
    fn encrypt_and_decrypt_round_trip_tv3() {
        let keys = ["--data-secret", KEY, "--data-secret-iv", KEY];
        let mut args = vec!["encrypt", "--text", "hello world!"];
        args.extend(keys);
        let (_, data) = run_args(&args);
        assert_eq!(data.trim(), "cmljobIKHDAcF9uf3mgs/w==");
        let mut args = vec!["decrypt", "--text", "cmljobIKHDAcF9uf3mgs/w=="];
        args.extend(keys);
        assert_eq!(run_args(&args).1.trim(), "hello world!");
        let short = Cli::try_parse_from([
            "tcec",
            "encrypt",
            "--text",
            "x",
            "--data-secret",
            "short",
            "--data-secret-iv",
            KEY,
        ])
        .unwrap();
        let err = run_to(short.command, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DataSecret") && !err.contains("short"),
            "{err}"
        );
    }

    #[test]
    fn verify_accepts_tv1_and_rejects_a_tampered_copy_with_keys_from_a_file() {
        let dir = crate::scratch::Scratch::new("chargestorm-tcec-cmd");
        let key_file = dir.join("sig.key");
        std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
        let envelope = |seq: &str| {
            format!(
                r#"{{"OperatorID":"123456789","Data":"{TV1_DATA}","TimeStamp":"20160729142400","Seq":"{seq}","Sig":"745166E8C43C84D37FFEC0F529C4136F"}}"#
            )
        };
        let body = dir.join("good.json");
        std::fs::write(&body, envelope("0001")).unwrap();
        let (code, text) = run_args(&[
            "verify",
            "--body",
            body.to_str().unwrap(),
            "--sig-secret-file",
            key_file.to_str().unwrap(),
        ]);
        assert_eq!((code, text.trim()), (ExitCode::SUCCESS, "request Sig OK"));
        std::fs::write(&body, envelope("0002")).unwrap();
        let (code, text) = run_args(&[
            "verify",
            "--body",
            body.to_str().unwrap(),
            "--sig-secret-file",
            key_file.to_str().unwrap(),
        ]);
        assert_eq!(code, ExitCode::FAILURE);
        assert!(text.contains("INVALID"), "{text}");
        let response =
            r#"{"Ret":0,"Msg":"1","Data":"abc","Sig":"6A7BDACE25C1BA6A4E81EBF5B85B224A"}"#;
        std::fs::write(&body, response).unwrap();
        let (code, text) = run_args(&[
            "verify",
            "--body",
            body.to_str().unwrap(),
            "--sig-secret",
            KEY,
        ]);
        assert_eq!((code, text.trim()), (ExitCode::SUCCESS, "response Sig OK"));
        let missing =
            Cli::try_parse_from(["tcec", "verify", "--body", body.to_str().unwrap()]).unwrap();
        // Only meaningful when TCEC_SIG_SECRET is not set in the test environment.
        if std::env::var_os("TCEC_SIG_SECRET").is_none() {
            let err = run_to(missing.command, &mut Vec::new())
                .unwrap_err()
                .to_string();
            assert!(err.contains("TCEC_SIG_SECRET"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
