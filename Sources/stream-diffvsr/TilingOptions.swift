import ArgumentParser
import StreamDiffVSR

/// `--tile`, `--tile-overlap`, `--max-memory` and `--tile-blending`, shared by `upscale` and `serve`.
struct TilingOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Denoise and decode in tiles of N x N LR pixels: auto, none or N.",
        discussion: """
        auto (default) tiles only when a frame would not fit --max-memory; none always processes the whole \
        frame (the reference's computation). Optical flow and warping always see the whole frame; tiles \
        overlap and are blended, so seams stay faint but outputs differ slightly from untiled ones.
        """))
    var tile: TileSetting = .automatic

    @Option(name: .customLong("tile-overlap"), help: "Overlap of neighbouring tiles, in LR pixels.")
    var tileOverlap = 16

    @Option(name: .customLong("max-memory"), help: ArgumentHelp(
        "Memory budget for --tile auto, e.g. 8G or 6000M (default: the memory free on the device).",
        discussion: "Counts the weights and one frame's working memory; a budget below the weights tiles as finely as possible."),
        transform: { try MemorySize(parsing: $0).bytes })
    var maxMemory: UInt64?

    @Option(name: .customLong("tile-blending"), help: ArgumentHelp(
        "What overlapping tiles blend: latent (every denoising step, then the decoder's outputs) or output (only the decoded tiles).",
        valueName: "latent|output"))
    var tileBlending: TileBlending = .latent

    func validate() throws {
        if tileOverlap < 0 { throw ValidationError("--tile-overlap must not be negative, got \(tileOverlap)") }
        if case .size(let side) = tile, side < 16 { throw ValidationError("--tile must be at least 16 LR pixels, got \(side)") }
    }

    var tiling: Tiling {
        switch tile {
        case .automatic: .automatic(maxMemoryBytes: maxMemory)
        case .none: .none
        case .size(let side): .size(side)
        }
    }
}

enum TileSetting: ExpressibleByArgument, Equatable {
    case automatic, none, size(Int)

    init?(argument: String) {
        switch argument.lowercased() {
        case "auto": self = .automatic
        case "none", "off": self = .none
        default:
            guard let side = Int(argument), side > 0 else { return nil }
            self = .size(side)
        }
    }
}

extension TileBlending: ExpressibleByArgument {}

/// "8G", "6000M", "512k" or plain bytes (binary units: 1G = 1024³ bytes).
struct MemorySize {
    let bytes: UInt64

    init(parsing text: String) throws {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = text.uppercased().trimmingCharacters(in: .whitespaces)
        if digits.hasSuffix("B") || digits.hasSuffix("I") { digits.removeLast() }
        if digits.hasSuffix("I") { digits.removeLast() }
        var multiplier: UInt64 = 1
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits.removeLast()
        }
        guard let value = Double(digits), value > 0, value * Double(multiplier) < 1.8e19 else {
            throw ValidationError("\(text) is not a memory size (examples: 8G, 6000M)")
        }
        bytes = UInt64(value * Double(multiplier))
    }
}
