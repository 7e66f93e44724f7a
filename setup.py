"""Installs `labml_nn`, the annotated knowledge-distillation tutorial."""
import setuptools

setuptools.setup(
    name='labml_nn',
    version='0.1.0',
    description='Annotated knowledge distillation (Hinton et al., 2015) on PyTorch, '
                'with a literate renderer and a CIFAR-10 study',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='MIT',
    packages=setuptools.find_packages(include=['labml_nn', 'labml_nn.*']),
    # The pages' notes, the studies' committed results and the plots drawn from them, and the renderer's files
    package_data={'labml_nn': ['.labml.yaml', '**/*.md', '**/results/*.json', '**/*.png', 'literate/assets/*',
                               'literate/translations/**/*.yaml']},
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.1',
        'torchvision>=0.16',
        'labml>=0.5',
        'labml-helpers>=0.4.89',
        'numpy',
        'matplotlib',
        'markdown-it-py>=3',
        'mdit-py-plugins>=0.4',
        'pygments>=2.15',
        'pyyaml>=6',
        'pykatex>=0.1',
    ],
    # `hf`: distilling models of Hugging Face's transformers (labml_nn.distillation.huggingface); the tests
    # install it too, so that they run that module's tests on tiny models built from configurations
    extras_require={'hf': ['transformers>=4.42'], 'test': ['pytest>=7', 'transformers>=4.42'],
                    'dev': ['pytest>=7']},
)
