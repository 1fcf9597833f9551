//! The JVMs of a host read from its process table instead of `jcmd -l`. jcmd is a Java program:
//! each call starts a JVM on the host, a few hundred milliseconds of CPU and a hundred
//! megabytes that a busy production host pays for, and that three instances on two cores wait
//! on. The same facts are in `/proc`: HotSpot announces each JVM in `/tmp/hsperfdata_USER/PID`
//! (where `jcmd -l` looks too), and `/proc/PID/cmdline` is the `java` launcher's command line,
//! from which the main class (what `jcmd -l` shows) and the `-D` properties are read by the
//! launcher's own grammar. Anything the grammar cannot place (an `@argfile`, a launcher not
//! named `java`) makes the whole listing unknown, and the caller asks jcmd.

use std::collections::BTreeMap;

use base64::Engine as _;

/// The fixed script run on the host: for each announced process that is a JVM (libjvm mapped)
/// and still runs, its pid on one line and its command line (NUL-separated arguments) in base64
/// on the next. A JVM whose memory map cannot be read (another user's) or a host without
/// base64 exits 3: jcmd is asked instead. Nothing from the caller is spliced in.
pub const SCRIPT: &str = r#"command -v base64 >/dev/null || exit 3
for f in /tmp/hsperfdata_*/*; do
  p=${f##*/}
  case $p in ''|*[!0-9]*) continue;; esac
  grep -q libjvm /proc/$p/maps 2>/dev/null; s=$?
  [ $s -eq 1 ] && continue
  if [ $s -ne 0 ]; then [ -d /proc/$p ] || continue; exit 3; fi
  c=$(base64 -w0 < /proc/$p/cmdline 2>/dev/null) || continue
  [ -n "$c" ] || continue
  printf '%s\n%s\n' "$p" "$c"
done"#;

/// Command lines longer than this are not believed (the kernel caps them far lower for
/// reading; this bounds what a host's answer can make us allocate).
const MAX_COMMAND_LINE: usize = 1 << 20;

/// A JVM as the launcher started it.
#[derive(Debug, Clone, PartialEq)]
pub struct Launched {
    pub pid: u32,
    /// The main class, jar or module, then its arguments: what `jcmd -l` shows.
    pub command: String,
    /// The `-Dkey=value` options, as the JVM's system properties start.
    pub properties: BTreeMap<String, String>,
}

/// The script's output, or None when any of it cannot be read as a `java` launcher's command
/// line (the caller then asks jcmd, which knows).
pub fn parse(output: &[u8]) -> Option<Vec<Launched>> {
    let text = std::str::from_utf8(output).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for pair in lines.chunks(2) {
        let [pid, encoded] = pair else { return None };
        let pid: u32 = pid.trim().parse().ok()?;
        if encoded.len() > MAX_COMMAND_LINE / 3 * 4 + 4 {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        let args: Vec<String> =
            raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        found.push(read_launcher(pid, &args)?);
    }
    found.sort_by_key(|l| l.pid);
    Some(found)
}

/// Options of the `java` launcher that take the next argument as their value (`java --help`,
/// JDK 11 to 21).
const WITH_VALUE: &[&str] = &[
    "-cp",
    "-classpath",
    "--class-path",
    "-p",
    "--module-path",
    "--upgrade-module-path",
    "--add-modules",
    "--enable-native-access",
    "--add-reads",
    "--add-exports",
    "--add-opens",
    "--limit-modules",
    "--patch-module",
    "--source",
];

/// `java [options] MAIN [args]`, `java [options] -jar JAR [args]` or `java [options] -m
/// MODULE[/CLASS] [args]`, as `jcmd -l` shows it: the main part and its arguments.
fn read_launcher(pid: u32, args: &[String]) -> Option<Launched> {
    let launcher = args.first()?;
    if launcher.rsplit('/').next() != Some("java") {
        return None;
    }
    let mut properties = BTreeMap::new();
    let mut rest = args.iter().skip(1);
    let main = loop {
        let arg = rest.next()?;
        if arg.starts_with('@') {
            return None;
        } else if let Some(property) = arg.strip_prefix("-D") {
            let (key, value) = property.split_once('=').unwrap_or((property, ""));
            properties.insert(key.to_string(), value.to_string());
        } else if arg == "-jar" || arg == "-m" || arg == "--module" {
            break rest.next()?.clone();
        } else if let Some(module) = arg.strip_prefix("--module=") {
            break module.to_string();
        } else if WITH_VALUE.contains(&arg.as_str()) {
            rest.next()?;
        } else if !arg.starts_with('-') {
            break arg.clone();
        }
    };
    let command = std::iter::once(main).chain(rest.cloned()).collect::<Vec<_>>().join(" ");
    Some(Launched { pid, command, properties })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pid: u32, args: &[&str]) -> String {
        let mut raw = Vec::new();
        for a in args {
            raw.extend_from_slice(a.as_bytes());
            raw.push(0);
        }
        format!("{pid}\n{}\n", base64::engine::general_purpose::STANDARD.encode(raw))
    }

    #[test]
    fn the_main_part_and_properties_are_read_by_the_launchers_grammar() {
        let output = [
            line(
                77,
                &[
                    "/usr/lib/jvm/java-17/bin/java",
                    "-Xmx1g",
                    "-cp",
                    "/a:/b",
                    "-Dservice.version=2.4.1",
                    "-Dflag",
                    "FleetLeak",
                    "tenant-07",
                    "x y",
                ],
            ),
            line(12, &["java", "--add-opens", "java.base/java.lang=ALL-UNNAMED", "-jar", "app.jar", "--port", "8080"]),
            line(5, &["java", "--module-path", "mods", "--module=com.acme/com.acme.Main"]),
            line(6, &["java", "-m", "com.acme/com.acme.Main", "run"]),
        ]
        .concat();
        let jvms = parse(output.as_bytes()).unwrap();
        let commands: Vec<(u32, &str)> = jvms.iter().map(|j| (j.pid, j.command.as_str())).collect();
        assert_eq!(
            commands,
            [
                (5, "com.acme/com.acme.Main"),
                (6, "com.acme/com.acme.Main run"),
                (12, "app.jar --port 8080"),
                (77, "FleetLeak tenant-07 x y")
            ]
        );
        assert_eq!(jvms[3].properties["service.version"], "2.4.1");
        assert_eq!(jvms[3].properties["flag"], "");
        assert!(parse(b"").unwrap().is_empty(), "no JVM is an answer too");
    }

    #[test]
    fn what_the_grammar_cannot_place_makes_the_listing_unknown() {
        for args in [
            &["java", "@opts.txt", "Main"][..],
            &["/opt/es/bin/elasticsearch-launcher", "Main"],
            &["java", "-Xmx1g"],
            &["java", "-cp"],
            &["java", "-jar"],
        ] {
            assert_eq!(parse(line(1, args).as_bytes()), None, "{args:?}");
        }
        for output in ["12\n", "x\nAAAA\n", "12\n!!!\n", "\u{0}"] {
            assert_eq!(parse(output.as_bytes()), None, "{output:?}");
        }
        let huge = format!("1\n{}\n", "A".repeat(MAX_COMMAND_LINE * 2));
        assert_eq!(parse(huge.as_bytes()), None);
    }
}
