// The `stream-diffvsr` command: `upscale` (the default), `eval`, `doctor` and `serve`.
StreamDiffVSRCommand.main()
