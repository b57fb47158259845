// swift-tools-version:6.0
//
// Stream-DiffVSR in Swift. Layers (each imports only the ones below it):
//   stream-diffvsr (CLI: upscale, eval, doctor, devices, serve, worker)  /  WebApp
//   WorkQueue (job queue: in-process or PostgreSQL; chunk tasks, leases, metrics)
//   Evaluation (PSNR/SSIM as BasicSR, warping error)
//   StreamDiffVSR (pipeline, sessions, scheduler, motion compensation)   VideoJobs (frame loop, checkpoints)
//   Models (UNet, ControlNet, TemporalAutoencoderTiny, CLIP, RAFT)                  Media (PNG/JPEG, ffmpeg)
//   Checkpoints (safetensors, torch pickle, strict state dicts)   Hub
//   TensorEngine (Tensor, Device, operations: the device boundary)
//   BackendInterface (the ComputeBackend protocol)
//   CPUBackend <- CKernels (one C source, compiled per ISA through `target` attributes: no compiler
//                 flags, so the package can be depended on by version)
//   VulkanBackend (GLSL kernels as SPIR-V) <- CVulkanRuntime (loader via dlopen)
import PackageDescription

/// The engine and its backends hand raw buffers to worker threads, which strict concurrency checking cannot
/// express without wrapping every pointer: they stay in the Swift 5 language mode; every other target is Swift 6.
let rawPointerSettings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

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
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .target(name: "CKernels"),
        .target(name: "BackendInterface", swiftSettings: rawPointerSettings),
        .target(name: "CPUBackend", dependencies: ["BackendInterface", "CKernels"], swiftSettings: rawPointerSettings),
        /// The Vulkan plumbing in C (see its header); built without the Vulkan headers it reports that.
        .target(name: "CVulkanRuntime", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "VulkanBackend", dependencies: ["BackendInterface", "CVulkanRuntime"], exclude: ["Shaders"],
                swiftSettings: rawPointerSettings),
        .target(name: "TensorEngine", dependencies: ["BackendInterface", "CPUBackend", "VulkanBackend"],
                swiftSettings: rawPointerSettings),
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
        .target(name: "WorkQueue", dependencies: [
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "WebApp", dependencies: [
            "VideoJobs", "Media", "WorkQueue", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        ]),
        .executableTarget(name: "stream-diffvsr", dependencies: [
            "StreamDiffVSR", "Media", "VideoJobs", "Hub", "WebApp", "Evaluation", "TensorEngine", "Checkpoints", "WorkQueue",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "stream-diffvsr-bench", dependencies: ["TensorEngine", "Models", "StreamDiffVSR", "Checkpoints", "Media",
                                                                   "Evaluation"],
                          path: "Benchmarks/stream-diffvsr-bench"),

        .target(name: "TestSupport", dependencies: ["TensorEngine", "Checkpoints"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorEngineTests", dependencies: ["TensorEngine", "BackendInterface", "Checkpoints", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "VulkanBackendTests", dependencies: ["VulkanBackend", "BackendInterface", "TensorEngine", "TestSupport"]),
        .testTarget(name: "CPUBackendTests", dependencies: ["CPUBackend", "BackendInterface", "TensorEngine", "TestSupport"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "TestSupport", "ZIPFoundation"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HubTests", dependencies: [
            "Hub", "Checkpoints", .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Checkpoints", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MediaTests", dependencies: ["Media"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VideoJobsTests", dependencies: ["VideoJobs", "Media"]),
        .testTarget(name: "WorkQueueTests", dependencies: [
            "WorkQueue", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "StreamDiffVSR", "Media", "Checkpoints", "TensorEngine"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "WebAppTests", dependencies: [
            "WebApp", "VideoJobs", "Media", "WorkQueue",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        ]),
        .testTarget(name: "StreamDiffVSRTests", dependencies: ["StreamDiffVSR", "Media", "TestSupport", "VideoJobs"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)
