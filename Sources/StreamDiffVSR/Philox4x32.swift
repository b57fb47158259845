// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the counter-based
// generator behind cuRAND's curandStatePhilox4_32_10_t and so behind every torch.randn on CUDA. One block
// maps a 128-bit counter and a 64-bit key to four 32-bit words; nothing else is kept between calls.

enum Philox4x32 {
    private static let multipliers: (UInt32, UInt32) = (0xD251_1F53, 0xCD9E_8D57)
    private static let keyIncrements: (UInt32, UInt32) = (0x9E37_79B9, 0xBB67_AE85)

    /// Ten rounds on `counter` (words x, y, z, w) with `key` (words x, y), the key bumped between rounds.
    static func block(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var counter = counter, key = key
        for round in 0..<10 {
            if round > 0 {
                key.0 &+= keyIncrements.0
                key.1 &+= keyIncrements.1
            }
            let product0 = UInt64(multipliers.0) * UInt64(counter.0)
            let product1 = UInt64(multipliers.1) * UInt64(counter.2)
            counter = (UInt32(truncatingIfNeeded: product1 >> 32) ^ counter.1 ^ key.0, UInt32(truncatingIfNeeded: product1),
                       UInt32(truncatingIfNeeded: product0 >> 32) ^ counter.3 ^ key.1, UInt32(truncatingIfNeeded: product0))
        }
        return counter
    }
}
