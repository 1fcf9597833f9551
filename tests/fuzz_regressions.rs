//! Every input a fuzz target ever crashed, hung or ran out of memory on (tests/fixtures/fuzz/
//! <target>/, one file per finding, named for what it found) replayed through the same call the
//! target makes (deployclaw::fuzzing). Each must return; FUZZING.md says what each one found.

use std::path::Path;
use std::time::Instant;

#[test]
fn every_fuzz_finding_stays_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let tenancy =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guard/tenancy.toml"))
            .expect("the guard's tenancy map");
    let mut replayed = 0;
    for target in std::fs::read_dir(&root).expect("tests/fixtures/fuzz") {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        assert!(deployclaw::fuzzing::TARGETS.contains(&name.as_str()), "{name} is no fuzz target");
        for input in std::fs::read_dir(&target).unwrap() {
            let input = input.unwrap().path();
            let data = std::fs::read(&input).unwrap();
            let start = Instant::now();
            if name == "guard" {
                deployclaw::fuzzing::guard(&tenancy, &data);
            } else {
                assert!(deployclaw::fuzzing::run(&name, &data));
            }
            eprintln!("{}: returned in {:?}", input.display(), start.elapsed());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no findings under {}", root.display());
}
