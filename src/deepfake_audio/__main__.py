from deepfake_audio.cli import main

main()
