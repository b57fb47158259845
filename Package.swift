// swift-tools-version:6.0
//
// Stream-DiffVSR in Swift. Layers (each imports only the ones below it):
//   stream-diffvsr (CLI)  /  WebApp
//   Evaluation (PSNR/SSIM as BasicSR, warping error)   VideoJobs (frame loop, checkpoints, segments)
//   StreamDiffVSR (pipeline, sessions, scheduler, motion compensation)
//   Models (UNet, ControlNet, TemporalAutoencoderTiny, CLIP, RAFT)
//   Checkpoints (safetensors, torch pickle, strict state dicts)   Hub   Media
//   TensorEngine (tensor, ops) <- CPUBackend <- CKernels (one C source, compiled per ISA through
//   `target` attributes: no compiler flags, so the package can be depended on by version)
import PackageDescription

let package = Package(
    name: "StreamDiffVSR",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "StreamDiffVSR", targets: ["StreamDiffVSR"]),
        .executable(name: "stream-diffvsr", targets: ["stream-diffvsr"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.2.0"),
    ],
    targets: [
        .target(name: "CKernels"),
        .target(name: "BackendInterface"),
        .target(name: "CPUBackend", dependencies: ["BackendInterface", "CKernels"]),
        .target(name: "TensorEngine", dependencies: ["BackendInterface", "CPUBackend"]),
        .target(name: "Checkpoints", dependencies: ["BackendInterface", "TensorEngine", "ZIPFoundation"]),
        .target(name: "Hub", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .systemLibrary(name: "CLibPNG", path: "Sources/CLibPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CLibJPEG", path: "Sources/CLibJPEG", providers: [.apt(["libjpeg-dev"])]),
        .target(name: "Media", dependencies: ["CLibPNG", "CLibJPEG"]),
        .target(name: "VideoJobs", dependencies: ["Media", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Models", dependencies: ["TensorEngine", "Checkpoints"]),
        .target(name: "StreamDiffVSR", dependencies: [
            "Models", "Checkpoints", "Hub", "Media", "TensorEngine", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Evaluation", dependencies: ["StreamDiffVSR", "Models", "Media", "VideoJobs", "TensorEngine"]),
        .target(name: "WebApp", dependencies: [
            "VideoJobs", "Media",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        ]),
        .executableTarget(name: "stream-diffvsr", dependencies: [
            "StreamDiffVSR", "Media", "VideoJobs", "Hub", "WebApp", "Evaluation", "TensorEngine", "Checkpoints",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "stream-diffvsr-bench", dependencies: ["TensorEngine", "Models", "StreamDiffVSR", "Checkpoints", "Media"],
                          path: "Benchmarks/stream-diffvsr-bench"),

        .target(name: "TestSupport", dependencies: ["TensorEngine", "Checkpoints"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorEngineTests", dependencies: ["TensorEngine", "BackendInterface", "Checkpoints", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CPUBackendTests", dependencies: ["CPUBackend", "BackendInterface", "TensorEngine", "TestSupport"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HubTests", dependencies: [
            "Hub", "Checkpoints", .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Checkpoints", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MediaTests", dependencies: ["Media"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VideoJobsTests", dependencies: ["VideoJobs", "Media"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "StreamDiffVSR", "Media", "Checkpoints", "TensorEngine"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "WebAppTests", dependencies: [
            "WebApp", "VideoJobs", "Media",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        ]),
        .testTarget(name: "StreamDiffVSRTests", dependencies: ["StreamDiffVSR", "Media", "TestSupport"],
                    resources: [.copy("Fixtures")]),
    ],
    // Swift 6 toolchain, Swift 5 language mode: the engine hands raw buffers to worker threads, which
    // strict concurrency checking cannot express without wrapping every pointer.
    swiftLanguageModes: [.v5]
)
