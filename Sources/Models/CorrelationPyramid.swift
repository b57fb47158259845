// RAFT's all-pairs correlation (torchvision `CorrBlock`, 4 levels, radius 4) in two interchangeable
// forms. The full form stores corr(p, q) = <f1(p), f2(q)> / sqrt(C) for every pair and avg-pools its
// last two axes three times, as torchvision does: at 720p level 0 alone is 14,400 x 14,400 floats
// (830 MB). The on-demand form (RAFT's "alternate" implementation) avg-pools f2 instead — pooling
// is linear, so <f1(p), pool(f2)(q)> equals pool(corr(p, ·))(q) up to float rounding — and computes
// only the dot products each lookup window needs, so memory stays at the size of the feature maps.

import TensorEngine

public struct CorrelationPyramid {
    public enum Strategy: Sendable, Equatable {
        /// torchvision's layout: the whole volume and its pooled levels, in memory.
        case fullVolume
        /// Dot products computed per lookup window from pooled second feature maps.
        case onDemand
        /// The full volume while its level 0 fits `byteLimit`, else on demand. Below the limit the
        /// full volume is also the faster form; above it the per-window dot products cost less than
        /// the (HW)² volume (12 iterations x 4 levels x 10x10 windows < HW).
        case automatic(byteLimit: Int)

        /// 128 MB: a 256x256 frame's volume (4 MB) is kept, a 720p frame's (830 MB) is not.
        public static let standard = Strategy.automatic(byteLimit: 128 << 20)

        public func resolved(featureHeight: Int, featureWidth: Int) -> Strategy {
            guard case let .automatic(byteLimit) = self else { return self }
            let pixels = featureHeight * featureWidth
            return pixels * pixels * MemoryLayout<Float>.stride <= byteLimit ? .fullVolume : .onDemand
        }
    }

    public static let levels = 4
    public static let radius = 4
    static let windowSide = 2 * radius + 1
    /// Channels of a lookup: levels x (2r+1)², level-major.
    public static let outputChannels = levels * windowSide * windowSide

    private enum Storage {
        /// Per level: [HW, 1, Hl, Wl] correlation of every query pixel with the pooled grid.
        case full([Tensor])
        /// Queries [HW, C] (scaled by 1/sqrt(C)) and per level the pooled second map [Hl·Wl, C].
        case onDemand(queries: Tensor, keys: [Tensor])
    }

    public let height: Int
    public let width: Int
    private let levelSizes: [[Int]]
    private let storage: Storage

    /// `fmap1`, `fmap2`: [1, C, H, W] feature maps with H, W >= 16 (torchvision raises below that: the
    /// 4th level would be under 2 px and the lookup's normalisation divides by size - 1).
    public init(fmap1: Tensor, fmap2: Tensor, strategy: Strategy = .standard) {
        precondition(fmap1.shape == fmap2.shape && fmap1.rank == 4 && fmap1.shape[0] == 1,
                     "CorrelationPyramid: feature maps \(fmap1.shape) and \(fmap2.shape) must be equal [1, C, H, W]")
        let minimumSide = 2 << (Self.levels - 1)
        precondition(fmap1.shape[2] >= minimumSide && fmap1.shape[3] >= minimumSide,
                     "CorrelationPyramid: feature maps \(fmap1.shape) are under \(minimumSide) px (images under \(8 * minimumSide) px)")
        let (channels, height, width) = (fmap1.shape[1], fmap1.shape[2], fmap1.shape[3])
        (self.height, self.width) = (height, width)
        var sizes = [[height, width]]
        for _ in 1..<Self.levels { sizes.append([sizes.last![0] / 2, sizes.last![1] / 2]) }
        levelSizes = sizes
        let pixels = height * width
        switch strategy.resolved(featureHeight: height, featureWidth: width) {
        case .fullVolume, .automatic:
            // torchvision divides by torch.sqrt(tensor(C)) after the product.
            let volume = matmul(fmap1.reshaped([channels, pixels]), fmap2.reshaped([channels, pixels]), transposeA: true)
                / Float(channels).squareRoot()
            var levels = [volume.reshaped([pixels, 1, height, width])]
            for _ in 1..<Self.levels { levels.append(avgPool2d(levels.last!, kernel: (2, 2))) }
            storage = .full(levels)
        case .onDemand:
            var pooled = [fmap2]
            for _ in 1..<Self.levels { pooled.append(avgPool2d(pooled.last!, kernel: (2, 2))) }
            let queries = fmap1.reshaped([channels, pixels]).permuted([1, 0])
            storage = .onDemand(queries: queries * (1 / Float(channels).squareRoot()),
                                keys: pooled.map { $0.reshaped([channels, -1]).permuted([1, 0]) })
        }
    }

    /// Correlation features around `coordinates` ([1, 2, H, W], x then y, in level-0 pixels):
    /// [1, 324, H, W] (see `correlationLookup` for the sampling).
    public func lookup(_ coordinates: Tensor) -> Tensor {
        precondition(coordinates.shape == [1, 2, height, width], "lookup: coordinates \(coordinates.shape) for a \(height)x\(width) pyramid")
        switch storage {
        case let .full(volumes):
            return correlationLookup(volumes: volumes, coordinates: coordinates, radius: Self.radius)
        case let .onDemand(queries, keys):
            return correlationLookup(queries: queries, keys: keys, levelSizes: levelSizes, coordinates: coordinates,
                                     radius: Self.radius)
        }
    }
}
