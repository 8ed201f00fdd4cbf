// swift-tools-version:6.0
// libFuzzer targets for Honeytrace's parsers of outside bytes. Built by scripts/fuzz.sh with
// `-sanitize=fuzzer,address` (and `-enable-testing` for the parsers that are internal to their module);
// a separate package so that the main package's build and tests are unchanged.
import Foundation
import PackageDescription

/// The main package is the parent folder; its identity is that folder's name, whatever the clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let honeytrace = root.lastPathComponent

/// One libFuzzer target: `Targets/<name>/`, whose `main.swift` hands its test function to libFuzzer's driver.
func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: "fuzz-\(name)",
        dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: honeytrace) },
        path: "Targets/\(name)"
    )
}

let package = Package(
    name: "HoneytraceFuzz",
    dependencies: [.package(path: root.path)],
    targets: [
        .target(name: "CFuzzer", path: "CFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzer"], path: "Support"),
        fuzzTarget("npy", ["Formats"]),
        fuzzTarget("idx", ["Formats"]),
        fuzzTarget("safetensors", ["Formats"]),
        fuzzTarget("keyfile", ["Honeytrace"]),
        fuzzTarget("model-json", ["Training"]),
        fuzzTarget("clients", ["HoneytraceServer"]),
        fuzzTarget("request", ["HoneytraceServer"]),
    ]
)
