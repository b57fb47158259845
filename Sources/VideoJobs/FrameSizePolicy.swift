import Media

/// The reference (diffusers `VaeImageProcessor`) shrinks a frame whose sides are not multiples of the
/// VAE scale factor to the multiples below, with PIL's Lanczos filter, before anything else; this does
/// the same so outputs match it.
public struct FrameSizePolicy: Sendable, Equatable {
    public let multiple: Int

    public init(multiple: Int = 4) {
        precondition(multiple >= 1, "FrameSizePolicy needs a positive multiple")
        self.multiple = multiple
    }

    public func targetSize(width: Int, height: Int) -> (width: Int, height: Int) {
        (width - width % multiple, height - height % multiple)
    }

    func validate(width: Int, height: Int, path: String) throws {
        guard width >= multiple, height >= multiple else {
            throw VideoJobError.frameTooSmall(path: path, size: "\(width)x\(height)", multiple: multiple)
        }
    }

    /// The one warning line a sequence of this size gets, or nil when no resize happens.
    func warning(sequence: String, width: Int, height: Int) -> String? {
        let target = targetSize(width: width, height: height)
        guard target.width != width || target.height != height else { return nil }
        return "\(sequence): frames are \(width)x\(height), not multiples of \(multiple); resizing them down to \(target.width)x\(target.height) (Lanczos) first, as the reference does"
    }

    func apply(_ frame: RGBImage) -> RGBImage {
        let target = targetSize(width: frame.width, height: frame.height)
        return LanczosResize.resize(frame, width: target.width, height: target.height)
    }
}
