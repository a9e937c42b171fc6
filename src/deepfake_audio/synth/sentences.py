"""Built-in sentences for text-to-speech when the caller gives none (written for this project; public domain)."""

from __future__ import annotations

from pathlib import Path

from deepfake_audio.errors import ConfigError

# Varied on purpose: statements, questions, numbers, names, lists, short and long, calm and urgent.
BUILTIN_SENTENCES: tuple[str, ...] = (
    "The morning train to the coast leaves at half past seven.",
    "Could you please send me the report before Friday afternoon?",
    "My account number ends in four, nine, two, and six.",
    "It rained all night, so the garden path is covered in leaves.",
    "Hello, this is your bank calling about a recent transaction.",
    "We need eggs, flour, butter, and a little sugar for the cake.",
    "The meeting has been moved to room three hundred and twelve.",
    "Do not share your password with anyone, not even with us.",
    "She said she would be home by nine, but the roads were closed.",
    "Turn left at the old bridge and follow the river for two miles.",
    "Honestly, I think the second option is the better one.",
    "The museum opens at ten and closes at five on weekdays.",
    "Why would anyone leave the back door open in this weather?",
    "Our flight was delayed for three hours because of the fog.",
    "Please confirm your date of birth and the first line of your address.",
    "A quiet voice can carry further than a shout.",
    "The children built a small boat from wood and string.",
    "Thank you for waiting; an agent will be with you shortly.",
    "I left my keys on the kitchen table next to the blue mug.",
    "The temperature will drop to minus four degrees tonight.",
    "Yes, I approve the payment of two thousand five hundred euros.",
    "He plays the violin every evening after dinner.",
    "Is it true that the library will be closed all summer?",
    "Mix the paint slowly until the colour is even.",
    "The committee will announce its decision next Tuesday.",
    "Grandmother kept every letter in a wooden box under the bed.",
    "This call may be recorded for training and quality purposes.",
    "Seven white horses ran across the field at dawn.",
    "I am calling because I lost my phone and need a new code.",
    "The recipe says to bake it for forty minutes at two hundred degrees.",
    "Nobody expected the small team to win the final.",
    "Can you hear me clearly, or should I call you back later?",
    "The lighthouse keeper watched the storm roll in from the west.",
    "Remember to water the plants while I am away.",
    "Please transfer the money to the new account today.",
    "Bright stars filled the sky above the silent valley.",
)


def read_texts(path: Path) -> list[str]:
    """One sentence per non-empty line of a UTF-8 text file; lines starting with '#' are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read texts ({e})") from e
    texts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not texts:
        raise ConfigError(f"{path}: holds no sentences (one per line expected)")
    return texts
