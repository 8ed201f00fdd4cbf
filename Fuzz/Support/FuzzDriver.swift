import CFuzzer
import Foundation

/// Runs libFuzzer with the process's arguments on `test` and exits with libFuzzer's status.
///
/// SwiftPM gives every executable its own entry point (and renames `main` to it), so a target
/// cannot leave `main` to libFuzzer; it calls libFuzzer's driver from its top-level code instead.
public func runFuzzer(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, test)
    exit(status)
}
