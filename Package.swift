// swift-tools-version:6.0
import PackageDescription

/// The numeric modules' SIMD code (SIMD16<Float> kernels, vectorised loops) for Haswell (AVX2,
/// FMA, BMI), the least of the machines this project runs on: for the baseline x86-64 the
/// compiler splits every vector into 128-bit SSE operations. No fast-math: LLVM still may not
/// fuse or reorder float operations, so results are the same bits as before.
#if arch(x86_64)
let vectorISA: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let vectorISA: [SwiftSetting] = []
#endif

/// The numeric layers compiled with optimisation in debug builds too: their SIMD kernels and
/// element loops are generic code that runs tens of times slower unoptimised, and the test
/// suite spends most of its time in them (training victims and copies). Preconditions stay on.
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))] + vectorISA

let package = Package(
    name: "Honeytrace",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "honeytrace", targets: ["HoneytraceCLI"]),
        .library(name: "TensorEngine", targets: ["TensorEngine"]),
        .library(name: "NeuralNet", targets: ["NeuralNet"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Stats", targets: ["Stats"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Honeytrace", targets: ["Honeytrace"]),
        .library(name: "Extraction", targets: ["Extraction"]),
        .library(name: "Diffusion", targets: ["Diffusion"]),
        .library(name: "Prediction", targets: ["Prediction"]),
        .library(name: "Baselines", targets: ["Baselines"]),
        // For the libFuzzer targets under Fuzz/, which reach the parsers through these.
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "HoneytraceServer", targets: ["HoneytraceServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        // HoneytraceServer: HTTP serving, client, storage, metrics, lifecycle, load benchmark.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.90.0"),
        // HoneytraceServer: the shared PostgreSQL ledger of replicas (`serve --ledger postgres://…`).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // ONNX: the runtime library only; Sources/ONNX/onnx.pb.swift is generated once and committed.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // Test targets only: property-based round trips of the file and request formats.
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // OpenBLAS through pkg-config; apt provides libopenblas-dev.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // oneDNN's C API (the convolution kernels PyTorch uses on the CPU); apt: libdnnl-dev.
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        // zlib for gzip-compressed IDX files and the MNIST-5k CSV.
        .systemLibrary(
            name: "CZlibHT",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Layer 1: tensors, kernels, autograd, RNG.
        .target(name: "TensorEngine", dependencies: ["COpenBLAS", "CDNNL"], swiftSettings: optimizedInDebug),
        // Leaf: byte formats (IDX, NPY, CIFAR binary, CSV, safetensors, gzip, zip).
        .target(name: "Formats", dependencies: ["CZlibHT", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // Layer 2: modules, layers, losses, optimisers, model zoo, checkpoints.
        .target(name: "NeuralNet", dependencies: ["TensorEngine", "Formats"], swiftSettings: optimizedInDebug),
        // Layer 3: data sets, splits, batching, augmentation.
        .target(name: "Datasets", dependencies: ["TensorEngine", "Formats"], swiftSettings: optimizedInDebug),
        // Statistics for verification: distributions, tests, sample sizes.
        .target(name: "Stats"),
        // Layer 4: training loops, evaluation, model directories (weights + manifest).
        .target(name: "Training", dependencies: [
            "TensorEngine", "NeuralNet", "Datasets", "Formats",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: vectorISA),
        // Layer 5: the one vocabulary of "a classifier behind an API" that defenses, attacks, the verifier and
        // the server share: the prediction-API protocol, answer rows, a model as an API, output perturbations.
        .target(name: "Prediction", dependencies: ["TensorEngine", "Datasets", "Training"]),
        // Layer 5: denoising diffusion (DDPM) — noise schedule, ε-prediction training, sampling, and the
        // denoiser-behind-an-API vocabulary that the generative defense and attack share.
        .target(name: "Diffusion", dependencies: ["TensorEngine", "NeuralNet", "Datasets", "Formats"], swiftSettings: optimizedInDebug),
        // Layer 6: extraction attacks against a prediction API, through a query boundary that counts the budget.
        .target(name: "Extraction", dependencies: ["TensorEngine", "NeuralNet", "Datasets", "Training", "Prediction", "Diffusion"],
                swiftSettings: vectorISA),
        // Layer 6: Neural Honeytrace — the defense, watermark keys, calibration, verification.
        .target(name: "Honeytrace", dependencies: [
            "TensorEngine", "NeuralNet", "Datasets", "Formats", "Stats", "Training", "Prediction", "Diffusion",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: vectorISA),
        // Layer 6: the baselines Neural Honeytrace is compared with (SPEC §6, §8): DAWN, the composite backdoor,
        // MEA-Defender, EWE and PROWN, each with its own trigger set, statistic and verdict.
        .target(name: "Baselines", dependencies: [
            "TensorEngine", "NeuralNet", "Datasets", "Formats", "Stats", "Training", "Prediction",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Layer 5: ONNX in and out — an image classifier's ONNX graph as a graph model, and any model as ONNX.
        .target(name: "ONNX", dependencies: [
            "TensorEngine", "NeuralNet", "Datasets", "Training",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["Proto"]),
        // Layer 7: attack × defense grids, run manifests, tables and plots.
        .target(name: "Experiments", dependencies: [
            "TensorEngine", "NeuralNet", "Datasets", "Stats", "Training", "Prediction", "Extraction", "Honeytrace", "Baselines",
            "Diffusion",
        ], plugins: ["BuildCommit"]),
        // Layer 7: the defended model served over HTTP (Hummingbird 2), the HTTP client that attacks and the
        // verifier use, per-client accounting in SQLite or PostgreSQL (replicas), Prometheus metrics, the load benchmark.
        .target(name: "HoneytraceServer", dependencies: [
            "TensorEngine", "Datasets", "Training", "Prediction", "Honeytrace", "Extraction", "Formats", "Baselines",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .executableTarget(
            name: "HoneytraceCLI",
            dependencies: [
                "TensorEngine", "NeuralNet", "Formats", "Datasets", "Stats", "Training", "Prediction", "Honeytrace", "Extraction", "Experiments",
                "HoneytraceServer", "Baselines", "ONNX",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["BuildCommit"]
        ),
        // Generates the `buildCommit` constant of the CLI (`honeytrace --version`) and of Experiments (the
        // manifest's code version) from git before each build.
        .plugin(name: "BuildCommit", capability: .buildTool()),
        .target(name: "TestSupport", dependencies: ["TensorEngine"], path: "Sources/TestSupport"),
        .testTarget(name: "TensorEngineTests", dependencies: ["TensorEngine", "TestSupport"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "TensorEngine", "Formats", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Formats", "TensorEngine"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "NeuralNet", "Datasets", "Formats", "TensorEngine"]),
        .testTarget(name: "HoneytraceTests", dependencies: [
            "Honeytrace", "Prediction", "Training", "NeuralNet", "Datasets", "Stats", "TensorEngine", "Diffusion",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "HoneytraceCLITests", dependencies: [
            "HoneytraceCLI", "Formats", "HoneytraceServer", "Honeytrace", "Datasets", "Training", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(name: "ExtractionTests", dependencies: ["Extraction", "Prediction", "Training", "NeuralNet", "Datasets", "TensorEngine", "TestSupport", "Stats"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Extraction", "Honeytrace", "Prediction", "Stats", "TestSupport", "Diffusion"]),
        .testTarget(name: "HoneytraceServerTests", dependencies: [
            "HoneytraceServer", "Honeytrace", "Prediction", "Extraction", "Training", "NeuralNet", "Datasets", "Formats", "TensorEngine",
            "Baselines",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "NeuralNet", "TensorEngine", "TestSupport"]),
        .testTarget(name: "StatsTests", dependencies: ["Stats"], exclude: ["Fixtures"]),
        .testTarget(name: "ONNXTests", dependencies: ["ONNX", "Training", "NeuralNet", "Datasets", "Formats", "TensorEngine", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "BaselinesTests", dependencies: [
            "Baselines", "Prediction", "Training", "NeuralNet", "Datasets", "Stats", "TensorEngine", "TestSupport",
        ]),
    ]
)
