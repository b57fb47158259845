import Foundation
import Models
import TensorEngine

/// An estimate of one frame's working memory (activations, not weights) from its size and the model's
/// widths, for `--tile auto`: tiles are used only when the untiled frame would not fit the budget.
/// The per-pixel factors are estimates from the networks' peak RSS in Benchmarks/README.md (the 720p
/// full-size runs), not yet calibrated per component (a measurement is planned: issue 17); they are
/// scaled by the widths of the model in use, so a small model is not tiled needlessly.
struct FrameMemoryModel {
    /// Bytes per latent (LR) pixel of one UNet + ControlNet step, per channel of the first UNet block.
    static let denoiseBytesPerPixelPerChannel: Double = 240
    /// Bytes per output pixel of the temporal decoder and its guidance features, per decoder channel.
    static let decodeBytesPerPixelPerChannel: Double = 36
    /// Bytes per output pixel of what always runs on the whole frame: RAFT on the 4x frames (one image at
    /// a time through the feature encoder), the warped and decoded frames.
    static let wholeFrameBytesPerPixel: Double = 700

    let unetChannels: Int
    let decoderChannels: Int
    let scale: Int

    init(unetChannels: Int, decoderChannels: Int, scale: Int) {
        (self.unetChannels, self.decoderChannels, self.scale) = (unetChannels, decoderChannels, scale)
    }

    init(pipeline: Pipeline) {
        self.init(unetChannels: pipeline.unetConfig.blockOutChannels.first ?? 0,
                  decoderChannels: pipeline.autoencoder.config.decoderBlockOutChannels.max() ?? 0,
                  scale: pipeline.autoencoder.scaleFactor)
    }

    /// Working memory of a frame whose diffusion runs on tiles of `tilePixels` LR pixels at most.
    func workingBytes(framePixels: Int, tilePixels: Int) -> Double {
        let outputPixels = Double(scale * scale)
        let denoise = Self.denoiseBytesPerPixelPerChannel * Double(unetChannels) * Double(tilePixels)
        let decode = Self.decodeBytesPerPixelPerChannel * Double(decoderChannels) * Double(tilePixels) * outputPixels
        return Self.wholeFrameBytesPerPixel * Double(framePixels) * outputPixels + max(denoise, decode)
    }

    /// The largest square tile side (a multiple of 32, at least 64) whose frame fits `budget` bytes, nil
    /// when the whole frame fits; the smallest tile when nothing fits (tiling is then the best effort).
    func tileSide(height: Int, width: Int, budget: Double) -> Int? {
        let pixels = height * width
        if workingBytes(framePixels: pixels, tilePixels: pixels) <= budget { return nil }
        var side = 64
        while side + 32 < max(height, width), workingBytes(framePixels: pixels, tilePixels: (side + 32) * (side + 32)) <= budget {
            side += 32
        }
        return side
    }
}

extension StreamSession {
    /// The tiles of this frame under `options.tiling` (nil: the whole frame at once).
    public func tilePlan(height: Int, width: Int) throws -> TilePlan? {
        let side: Int?
        switch options.tiling {
        case .none:
            side = nil
        case .size(let requested):
            guard requested >= 16 else { throw PipelineError.invalidOption("tile size \(requested) is too small (at least 16 LR pixels)") }
            side = requested
        case .automatic(let maxMemory):
            let weights = UInt64(pipeline.parameterBytes)
            let budget = Double(maxMemory.map { $0 > weights ? $0 - weights : 0 } ?? Self.freeMemory(of: pipeline.device, weights: weights))
            side = FrameMemoryModel(pipeline: pipeline).tileSide(height: height, width: width, budget: budget * 0.9)
        }
        guard let side else { return nil }
        return TilePlan(height: height, width: width, tile: side, overlap: min(options.tileOverlap, side / 4))
    }

    /// Memory a frame may use on `device` now: the CPU's available memory, or a GPU's memory left after
    /// the weights.
    static func freeMemory(of device: Device, weights: UInt64) -> UInt64 {
        if device.info.kind != .cpu { return device.info.memoryBytes > weights ? device.info.memoryBytes - weights : 0 }
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else {
            return ProcessInfo.processInfo.physicalMemory / 2
        }
        return kilobytes * 1024
    }
}
