// The `stream-diffvsr` command: `upscale` (the default) and `doctor`.
StreamDiffVSRCommand.main()
